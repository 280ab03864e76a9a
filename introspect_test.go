package accesstoken

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// kitFixture is the test kit with a counter and a throttle on its
// introspection endpoint.
type kitFixture struct {
	as    *accesstokentest.Server
	calls atomic.Int32
	delay atomic.Int64 // nanoseconds before the endpoint answers
	down  atomic.Bool
}

func newKit(t testing.TB, opts ...accesstokentest.Option) *kitFixture {
	t.Helper()
	k := &kitFixture{}
	wrap := accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/introspect") {
				k.calls.Add(1)
				// Read the form first: the server only notices a client
				// that went away once the request body is consumed.
				r.ParseForm()
				if d := time.Duration(k.delay.Load()); d > 0 {
					select {
					case <-time.After(d):
					case <-r.Context().Done():
						return
					}
				}
				if k.down.Load() {
					http.Error(w, "down", http.StatusBadGateway)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	k.as = accesstokentest.NewServer(append([]accesstokentest.Option{wrap}, opts...)...)
	t.Cleanup(k.as.Close)
	return k
}

func (k *kitFixture) validator(t testing.TB, edit func(*Config)) *Validator {
	t.Helper()
	cfg := Config{
		Issuer: k.as.Issuer(), Audience: []string{k.as.Audience()}, StrictStart: true,
		Introspection: &IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestIntrospectOpaque(t *testing.T) {
	k := newKit(t)
	v := k.validator(t, nil)
	tok := k.as.OpaqueToken(map[string]any{"sub": "alice", "scope": "read write", "tenant": "acme"})
	c, err := v.Validate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Introspected || c.Subject != "alice" || !c.HasScope("write") || c.Issuer != k.as.Issuer() || c.ClientID != "test-client" {
		t.Errorf("claims %+v", c)
	}
	var extra struct {
		Tenant    string `json:"tenant"`
		TokenType string `json:"token_type"`
	}
	if err := c.Decode(&extra); err != nil || extra.Tenant != "acme" || extra.TokenType != "Bearer" {
		t.Errorf("Decode: %v %+v", err, extra)
	}
	if _, err := v.Validate(context.Background(), "never-issued"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("unknown token: %v", err)
	}
}

func TestIntrospectClientAuth(t *testing.T) {
	rsaKey := sharedTestKeys().rsa
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	k := newKit(t,
		accesstokentest.WithIntrospectionClient("basic client", "s3cret:with+odd chars"),
		accesstokentest.WithIntrospectionClient("post-client", "post-secret"),
		accesstokentest.WithIntrospectionClientKey("rsa-client", rsaKey.Public()),
		accesstokentest.WithIntrospectionClientKey("ec-client", ecKey.Public()),
		accesstokentest.WithIntrospectionClientKey("ed-client", edKey.Public()),
	)
	tests := []struct {
		name string
		cfg  IntrospectionConfig
		ok   bool
	}{
		{"basic", IntrospectionConfig{ClientID: "basic client", ClientSecret: "s3cret:with+odd chars"}, true},
		{"basic, named", IntrospectionConfig{ClientID: "basic client", ClientSecret: "s3cret:with+odd chars", AuthMethod: "client_secret_basic"}, true},
		{"post", IntrospectionConfig{ClientID: "post-client", ClientSecret: "post-secret", AuthMethod: "client_secret_post"}, true},
		{"private_key_jwt RSA", IntrospectionConfig{ClientID: "rsa-client", AuthMethod: "private_key_jwt", PrivateKey: rsaKey, KeyID: "k1"}, true},
		{"private_key_jwt EC", IntrospectionConfig{ClientID: "ec-client", AuthMethod: "private_key_jwt", PrivateKey: ecKey}, true},
		{"private_key_jwt Ed25519", IntrospectionConfig{ClientID: "ed-client", AuthMethod: "private_key_jwt", PrivateKey: edKey}, true},
		{"wrong secret", IntrospectionConfig{ClientID: "post-client", ClientSecret: "nope", AuthMethod: "client_secret_post"}, false},
		{"wrong key", IntrospectionConfig{ClientID: "ec-client", AuthMethod: "private_key_jwt", PrivateKey: rsaKey}, false},
	}
	tok := k.as.OpaqueToken(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			v := k.validator(t, func(c *Config) { c.Introspection = &cfg })
			_, err := v.Validate(context.Background(), tok)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			// A server refusing our credentials is our outage, not the
			// token's fault: 503, never invalid_token.
			if !tt.ok && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestIntrospectionConfigErrors(t *testing.T) {
	k := newKit(t)
	for name, ic := range map[string]IntrospectionConfig{
		"no client id":    {ClientSecret: "x"},
		"no secret":       {ClientID: "x"},
		"bad method":      {ClientID: "x", ClientSecret: "x", AuthMethod: "tls_client_auth"},
		"no private key":  {ClientID: "x", AuthMethod: "private_key_jwt"},
		"bad endpoint":    {ClientID: "x", ClientSecret: "x", Endpoint: "/introspect"},
		"negative TTL":    {ClientID: "x", ClientSecret: "x", CacheTTL: -1},
		"P-224 assertion": {ClientID: "x", AuthMethod: "private_key_jwt", PrivateKey: mustP224()},
	} {
		ic := ic
		if _, err := NewValidator(context.Background(), Config{Issuer: k.as.Issuer(), Audience: []string{"a"}, Introspection: &ic}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustP224() crypto.Signer {
	k, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	return k
}

func TestRevocation(t *testing.T) {
	k := newKit(t)
	v := k.validator(t, func(c *Config) { c.Introspection.CacheSize = -1 })
	tok := k.as.OpaqueToken(nil)
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	k.as.Revoke(tok)
	_, err := v.Validate(context.Background(), tok)
	checkResult(t, nil, err, result{ErrInvalidToken, descInactive})
}

// answerServer answers every introspection with a fixed response.
type answerServer struct {
	srv   *httptest.Server
	calls atomic.Int32
	last  atomic.Pointer[http.Request]
	form  atomic.Pointer[url.Values]
	mu    sync.Mutex
	reply func(w http.ResponseWriter)
}

func newAnswerServer(t testing.TB, reply func(w http.ResponseWriter)) *answerServer {
	a := &answerServer{reply: reply}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		r.ParseForm()
		f := r.PostForm
		a.form.Store(&f)
		a.last.Store(r)
		a.mu.Lock()
		reply := a.reply
		a.mu.Unlock()
		reply(w)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func jsonReply(body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, body)
	}
}

// answerValidator validates against a rawIssuer for keys and answerServer
// for introspection, with audience "api".
func answerValidator(t testing.TB, a *answerServer, edit func(*Config)) *Validator {
	ri := newRawIssuer(t)
	return ri.validator(t, func(c *Config) {
		c.Introspection = &IntrospectionConfig{Endpoint: a.srv.URL, ClientID: "rs", ClientSecret: "secret"}
		if edit != nil {
			edit(c)
		}
	})
}

// TestIntrospectionAnswers: every shape of answer an endpoint can give, and
// what it makes of the token. Transport trouble and garbage are
// ErrUnavailable; only a well-formed answer can make a token invalid.
func TestIntrospectionAnswers(t *testing.T) {
	future := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	unavailable := result{ErrUnavailable, ""}
	invalid := func(d string) result { return result{ErrInvalidToken, d} }
	big := `{"active":true,"aud":"api","pad":"` + strings.Repeat("a", maxIntrospectionBytes) + `"}`
	tests := []struct {
		name  string
		reply func(http.ResponseWriter)
		want  result
	}{
		{"active", jsonReply(`{"active":true,"aud":"api"}`), accepted},
		{"active with claims", jsonReply(fmt.Sprintf(`{"active":true,"aud":["x","api"],"exp":%d,"scope":"a b","sub":"s"}`, future)), accepted},
		{"inactive", jsonReply(`{"active":false}`), invalid(descInactive)},
		{"active as string", jsonReply(`{"active":"true","aud":"api"}`), invalid(descInactive)},
		{"active as number", jsonReply(`{"active":1,"aud":"api"}`), invalid(descInactive)},
		{"active null", jsonReply(`{"active":null,"aud":"api"}`), invalid(descInactive)},
		{"active missing", jsonReply(`{"aud":"api"}`), invalid(descInactive)},
		{"active in an array", jsonReply(`[{"active":true,"aud":"api"}]`), unavailable},
		{"duplicate active", jsonReply(`{"active":false,"active":true,"aud":"api"}`), unavailable},
		{"no aud", jsonReply(`{"active":true}`), invalid(descAudience)},
		{"other aud", jsonReply(`{"active":true,"aud":"other"}`), invalid(descAudience)},
		{"other iss", jsonReply(`{"active":true,"aud":"api","iss":"https://evil.example"}`), invalid(descIssuer)},
		{"expired", jsonReply(fmt.Sprintf(`{"active":true,"aud":"api","exp":%d}`, past)), result{ErrTokenExpired, descExpired}},
		{"not yet valid", jsonReply(fmt.Sprintf(`{"active":true,"aud":"api","nbf":%d}`, future)), invalid(descNotYetValid)},
		{"issued in future", jsonReply(fmt.Sprintf(`{"active":true,"aud":"api","iat":%d}`, future)), invalid(descIssuedInFuture)},
		{"bound with DPoP", jsonReply(`{"active":true,"aud":"api","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`), invalid(descBound)},
		{"bound with mTLS", jsonReply(`{"active":true,"aud":"api","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`), invalid(descBound)},
		{"refresh token", jsonReply(`{"active":true,"aud":"api","token_type":"refresh_token"}`), invalid(descInvalid)},
		{"token_use refresh", jsonReply(`{"active":true,"aud":"api","token_use":"refresh_token"}`), invalid(descInvalid)},
		{"exp as string", jsonReply(`{"active":true,"aud":"api","exp":"1"}`), unavailable},
		{"scope as array", jsonReply(`{"active":true,"aud":"api","scope":["a"]}`), unavailable},
		{"not JSON", jsonReply(`<html>error</html>`), unavailable},
		{"truncated", jsonReply(`{"active":true,"aud":"ap`), unavailable},
		{"empty body", jsonReply(``), unavailable},
		{"invalid UTF-8", jsonReply("{\"active\":true,\"aud\":\"api\",\"x\":\"\xff\"}"), unavailable},
		{"oversized", jsonReply(big), unavailable},
		{"HTML media type", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `{"active":true,"aud":"api"}`)
		}, unavailable},
		{"JWT response (RFC 9701)", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/token-introspection+jwt")
			io.WriteString(w, "eyJ.eyJ.sig")
		}, unavailable},
		{"no media type", func(w http.ResponseWriter) { w.Write([]byte(`{"active":true,"aud":"api"}`)) }, unavailable},
		{"HTTP 500", func(w http.ResponseWriter) { w.WriteHeader(500) }, unavailable},
		{"HTTP 401", func(w http.ResponseWriter) { w.WriteHeader(401) }, unavailable},
		{"HTTP 204", func(w http.ResponseWriter) { w.WriteHeader(204) }, unavailable},
		{"HTTP 400 with active", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"active":true,"aud":"api"}`)
		}, unavailable},
	}
	a := newAnswerServer(t, jsonReply(`{}`))
	v := answerValidator(t, a, func(c *Config) { c.Introspection.CacheSize = -1 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.mu.Lock()
			a.reply = tt.reply
			a.mu.Unlock()
			c, err := v.Validate(context.Background(), "opaque-token")
			checkResult(t, c, err, tt.want)
		})
	}
}

func TestAcceptMissingAudience(t *testing.T) {
	a := newAnswerServer(t, jsonReply(`{"active":true}`))
	v := answerValidator(t, a, func(c *Config) { c.Introspection.AcceptMissingAudience = true })
	if _, err := v.Validate(context.Background(), "t1"); err != nil {
		t.Fatal(err)
	}
	a.reply = jsonReply(`{"active":true,"aud":"other"}`)
	if _, err := v.Validate(context.Background(), "t2"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("an aud naming someone else was accepted: %v", err)
	}
}

// TestIntrospectionRequest checks the request itself (RFC 7662 §2.1).
func TestIntrospectionRequest(t *testing.T) {
	a := newAnswerServer(t, jsonReply(`{"active":true,"aud":"api"}`))
	v := answerValidator(t, a, func(c *Config) {
		c.Introspection.ClientID = "rs:1 +"
		c.Introspection.ClientSecret = "p@ss:wörd&="
	})
	if _, err := v.Validate(context.Background(), "tok+/=en"); err != nil {
		t.Fatal(err)
	}
	r := a.last.Load()
	f := *a.form.Load()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Accept") != "application/json" {
		t.Errorf("method %s, content type %q, accept %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"))
	}
	if f.Get("token") != "tok+/=en" || f.Get("token_type_hint") != "access_token" || f.Has("client_secret") {
		t.Errorf("form %v", f)
	}
	// RFC 6749 §2.3.1: id and secret are form-encoded inside Basic.
	user, pass, ok := r.BasicAuth()
	user, _ = url.QueryUnescape(user)
	pass, _ = url.QueryUnescape(pass)
	if !ok || user != "rs:1 +" || pass != "p@ss:wörd&=" {
		t.Errorf("basic auth %q %q", user, pass)
	}
}

func TestIntrospectionNoRedirects(t *testing.T) {
	target := newAnswerServer(t, jsonReply(`{"active":true,"aud":"api"}`))
	a := newAnswerServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Location", target.srv.URL)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	v := answerValidator(t, a, nil)
	if _, err := v.Validate(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := target.calls.Load(); n != 0 {
		t.Fatalf("redirect followed: %d calls, with the token and credentials", n)
	}
}

func TestIntrospectionDownOrSlow(t *testing.T) {
	slow := newAnswerServer(t, func(w http.ResponseWriter) {
		time.Sleep(2 * time.Second)
		jsonReply(`{"active":true,"aud":"api"}`)(w)
	})
	v := answerValidator(t, slow, func(c *Config) { c.FetchTimeout = 100 * time.Millisecond })
	if _, err := v.Validate(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("slow endpoint: %v", err)
	}
	dead := newAnswerServer(t, jsonReply(`{}`))
	dead.srv.Close()
	v = answerValidator(t, dead, nil)
	if _, err := v.Validate(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dead endpoint: %v", err)
	}
}

// clock is a settable Config.Now.
type clock struct{ t atomic.Int64 }

func newClock() *clock          { c := &clock{}; c.t.Store(time.Now().UnixNano()); return c }
func (c *clock) now() time.Time { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) {
	c.t.Add(int64(d))
}

func TestIntrospectionCacheLifetimes(t *testing.T) {
	clk := newClock()
	exp := clk.now().Add(time.Minute).Unix()
	a := newAnswerServer(t, jsonReply(fmt.Sprintf(`{"active":true,"aud":"api","exp":%d}`, exp)))
	v := answerValidator(t, a, func(c *Config) { c.Now = clk.now; c.Introspection.CacheTTL = time.Hour })
	ctx := context.Background()
	for range 3 {
		if _, err := v.Validate(ctx, "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.calls.Load(); n != 1 {
		t.Fatalf("%d calls for three validations, want 1", n)
	}
	// The answer said exp in a minute: past it the cache does not answer,
	// however long CacheTTL is.
	clk.add(61 * time.Second)
	if _, err := v.Validate(ctx, "tok"); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after exp: %v", err)
	}
	if n := a.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2: the entry must not outlive exp", n)
	}

	// CacheTTL bounds an answer without exp.
	a.reply = jsonReply(`{"active":true,"aud":"api"}`)
	v2 := answerValidator(t, a, func(c *Config) { c.Now = clk.now; c.Introspection.CacheTTL = time.Minute })
	v2.Validate(ctx, "tok2")
	clk.add(59 * time.Second)
	v2.Validate(ctx, "tok2")
	clk.add(2 * time.Second)
	v2.Validate(ctx, "tok2")
	if n := a.calls.Load(); n != 4 {
		t.Fatalf("%d calls, want 4 (2 before, then miss, hit, miss)", n)
	}

	// Inactive answers live InactiveCacheTTL; failures are not cached.
	a.reply = jsonReply(`{"active":false}`)
	v3 := answerValidator(t, a, func(c *Config) { c.Now = clk.now; c.Introspection.InactiveCacheTTL = 5 * time.Second })
	v3.Validate(ctx, "dead")
	v3.Validate(ctx, "dead")
	clk.add(6 * time.Second)
	v3.Validate(ctx, "dead")
	if n := a.calls.Load(); n != 6 {
		t.Fatalf("%d calls, want 6", n)
	}
	a.reply = func(w http.ResponseWriter) { w.WriteHeader(500) }
	v3.Validate(ctx, "broken")
	v3.Validate(ctx, "broken")
	if n := a.calls.Load(); n != 8 {
		t.Fatalf("%d calls, want 8: failures must not be cached", n)
	}
}

// TestIntrospectionCacheBounded floods the cache with unique tokens.
func TestIntrospectionCacheBounded(t *testing.T) {
	a := newAnswerServer(t, jsonReply(`{"active":true,"aud":"api"}`))
	v := answerValidator(t, a, func(c *Config) { c.Introspection.CacheSize = 50 })
	ctx := context.Background()
	for i := range 500 {
		if _, err := v.Validate(ctx, fmt.Sprintf("tok-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	v.intro.mu.Lock()
	n, l := len(v.intro.entries), v.intro.lru.Len()
	v.intro.mu.Unlock()
	if n != 50 || l != 50 {
		t.Fatalf("cache holds %d entries (%d in the list), want 50", n, l)
	}
	// Least recently used goes first: tok-450 is used again, so it survives
	// the next 49 new tokens while tok-451 does not.
	v.Validate(ctx, "tok-450")
	for i := range 49 {
		v.Validate(ctx, fmt.Sprintf("new-%d", i))
	}
	calls := a.calls.Load()
	v.Validate(ctx, "tok-450")
	if a.calls.Load() != calls {
		t.Error("recently used entry was evicted")
	}
	v.Validate(ctx, "tok-451")
	if a.calls.Load() != calls+1 {
		t.Error("least recently used entry was kept")
	}
	for key := range v.intro.entries {
		if bytes.Contains(key[:], []byte("tok-")) {
			t.Fatal("raw token used as a cache key")
		}
	}
}

// TestIntrospectionDedupe: many goroutines on one new token make one request,
// and a caller that gives up does not fail the others.
func TestIntrospectionDedupe(t *testing.T) {
	k := newKit(t)
	v := k.validator(t, nil)
	k.delay.Store(int64(300 * time.Millisecond))
	tok := k.as.OpaqueToken(nil)
	var wg sync.WaitGroup
	var failed atomic.Int32
	impatient, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := v.Validate(impatient, tok); !errors.Is(err, ErrUnavailable) {
			t.Errorf("impatient caller: %v", err)
		}
	}()
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Validate(context.Background(), tok); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d callers failed", failed.Load())
	}
	if n := k.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls for one token, want 1", n)
	}
}

func TestRouting(t *testing.T) {
	k := newKit(t)
	v := k.validator(t, nil)
	ctx := context.Background()
	if _, err := v.Validate(ctx, k.as.Token(nil)); err != nil {
		t.Fatal(err)
	}
	if n := k.calls.Load(); n != 0 {
		t.Fatalf("a JWT was introspected (%d calls)", n)
	}
	if _, err := v.Validate(ctx, k.as.OpaqueToken(nil)); err != nil || k.calls.Load() != 1 {
		t.Fatalf("opaque: %v, %d calls", err, k.calls.Load())
	}
	if _, err := v.Validate(ctx, "a.b.c.d.e"); !errors.Is(err, ErrInvalidToken) || k.calls.Load() != 2 {
		t.Fatalf("JWE-shaped: %v, %d calls", err, k.calls.Load())
	}

	// IntrospectJWTs: verified locally first, then asked about revocation.
	vj := k.validator(t, func(c *Config) { c.Introspection.IntrospectJWTs = true })
	jwt := k.as.Token(map[string]any{"sub": "bob"})
	c, err := vj.Validate(ctx, jwt)
	if err != nil || !c.Introspected || c.Subject != "bob" || k.calls.Load() != 3 {
		t.Fatalf("JWT introspected: %+v %v %d", c, err, k.calls.Load())
	}
	forged := jwt[:len(jwt)-6] + "AAAAAA"
	if _, err := vj.Validate(ctx, forged); !errors.Is(err, ErrInvalidToken) || k.calls.Load() != 3 {
		t.Fatalf("forged JWT: %v, %d calls (must be refused before introspection)", err, k.calls.Load())
	}
	revoked := k.as.Token(nil)
	k.as.Revoke(revoked)
	if _, err := vj.Validate(ctx, revoked); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked JWT: %v", err)
	}
}

func TestIntrospectionEndpointDiscovery(t *testing.T) {
	// The kit's metadata names the endpoint (k.validator sets no Endpoint).
	k := newKit(t)
	if _, err := k.validator(t, nil).Validate(context.Background(), k.as.OpaqueToken(nil)); err != nil {
		t.Fatal(err)
	}
	// Metadata without one: the token cannot be checked.
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) {
		c.Introspection = &IntrospectionConfig{ClientID: "rs", ClientSecret: "s"}
	})
	if _, err := v.Validate(context.Background(), "opaque"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestIntrospectionCloseStopsGoroutines(t *testing.T) {
	k := newKit(t)
	k.delay.Store(int64(time.Hour))
	v := k.validator(t, func(c *Config) { c.FetchTimeout = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	v.Validate(ctx, k.as.OpaqueToken(nil))
	if keySourceGoroutines() == 0 {
		t.Fatal("no introspection goroutine found while a request hangs")
	}
	v.Close()
	eventually(t, "goroutines to exit after Close", func() bool { return keySourceGoroutines() == 0 })
	if _, err := v.Validate(context.Background(), k.as.OpaqueToken(nil)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestNoSecretsInLogsOrErrors: the client secret and tokens never appear in
// log records or error text, whatever goes wrong.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	const secret = "very-secret-client-secret"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newAnswerServer(t, func(w http.ResponseWriter) { w.WriteHeader(500) })
	v := answerValidator(t, a, func(c *Config) {
		c.Logger = logger
		c.Introspection.ClientSecret = secret
	})
	const token = "opaque-token-value-1234567890"
	_, err := v.Validate(context.Background(), token)
	a.reply = jsonReply(`{"active":true,"aud":"other","error":"` + token + `"}`)
	_, err2 := v.Validate(context.Background(), token+"x")
	mu.Lock()
	text := logs.String() + err.Error() + err2.Error() + AsError(err).Challenge("r") + AsError(err2).Challenge("r")
	mu.Unlock()
	for _, s := range []string{secret, token} {
		if strings.Contains(text, s) {
			t.Errorf("%q leaked:\n%s", s, text)
		}
	}
	if !strings.Contains(logs.String(), "introspection failed") {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
