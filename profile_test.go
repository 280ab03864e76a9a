package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// kitValidator starts a Validator for the test kit's issuer.
func kitValidator(t *testing.T, as *accesstokentest.Server, edit func(*Config)) *Validator {
	t.Helper()
	return startValidator(t, Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}}, edit)
}

func TestProfileClaimRules(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	aud := as.Audience()
	cognito := &Profile{AudienceClaim: "/client_id", RequiredClaims: map[string]string{"/token_use": "access"}}
	tests := []struct {
		name     string
		profile  *Profile
		claims   map[string]any
		wantErr  error
		wantDesc string
		cause    string // a part of the cause, for the log
		clientID string
	}{
		{name: "no profile: client_id", claims: map[string]any{"azp": "web"}, clientID: "test-client"},
		{name: "client from azp", profile: &Profile{ClientIDClaims: []string{"/azp", "/appid"}},
			claims: map[string]any{"azp": "web", "appid": "old"}, clientID: "web"},
		{name: "client from the second claim", profile: &Profile{ClientIDClaims: []string{"/azp", "/appid"}},
			claims: map[string]any{"appid": "old"}, clientID: "old"},
		{name: "an empty or non-string claim is skipped", profile: &Profile{ClientIDClaims: []string{"/azp", "/cid", "/appid"}},
			claims: map[string]any{"azp": "", "cid": 7, "appid": "old"}, clientID: "old"},
		{name: "no client claim leaves it empty", profile: &Profile{ClientIDClaims: []string{"/cid"}}, clientID: ""},
		{name: "nested client claim", profile: &Profile{ClientIDClaims: []string{"/act/client"}},
			claims: map[string]any{"act": map[string]any{"client": "svc"}}, clientID: "svc"},

		{name: "audience from client_id", profile: cognito,
			claims: map[string]any{"aud": nil, "client_id": aud, "token_use": "access"}, clientID: aud},
		{name: "audience claim names another", profile: cognito,
			claims:  map[string]any{"aud": nil, "client_id": "other", "token_use": "access"},
			wantErr: ErrInvalidToken, wantDesc: descAudience, cause: `/client_id ["other"] names none`},
		{name: "audience claim absent, aud right", profile: cognito,
			claims:  map[string]any{"client_id": nil, "token_use": "access"},
			wantErr: ErrInvalidToken, wantDesc: descAudience, cause: "/client_id (absent) names none"},
		{name: "audience claim as an array", profile: &Profile{AudienceClaim: "/resource"},
			claims: map[string]any{"aud": "x", "resource": []string{"y", aud}}, clientID: "test-client"},

		{name: "required claim wrong", profile: cognito,
			claims:  map[string]any{"aud": nil, "client_id": aud, "token_use": "id"},
			wantErr: ErrInvalidToken, wantDesc: descClaim, cause: `claim /token_use is "id"; want "access"`},
		{name: "required claim absent", profile: cognito,
			claims:  map[string]any{"aud": nil, "client_id": aud},
			wantErr: ErrInvalidToken, wantDesc: descClaim, cause: "claim /token_use is absent"},
		{name: "required claim not a string", profile: cognito,
			claims:  map[string]any{"aud": nil, "client_id": aud, "token_use": []string{"access"}},
			wantErr: ErrInvalidToken, wantDesc: descClaim, cause: "claim /token_use is not a string"},
		{name: "two required claims, the first by name fails first", profile: &Profile{RequiredClaims: map[string]string{"/tid": "t1", "/ver": "2.0"}},
			claims: map[string]any{"tid": "t2", "ver": "1.0"}, wantErr: ErrInvalidToken, wantDesc: descClaim, cause: "/tid"},
		{name: "two required claims hold", profile: &Profile{RequiredClaims: map[string]string{"/tid": "t1", "/ver": "2.0"}},
			claims: map[string]any{"tid": "t1", "ver": "2.0"}, clientID: "test-client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := kitValidator(t, as, func(c *Config) { c.Profile = tt.profile })
			c, err := v.Validate(context.Background(), as.Token(tt.claims))
			if tt.wantErr != nil {
				var e *Error
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &e) {
					t.Fatalf("Validate: %v, want %v", err, tt.wantErr)
				}
				if e.Description != tt.wantDesc || !strings.Contains(e.Err.Error(), tt.cause) {
					t.Fatalf("description %q, cause %q; want %q and a cause with %q", e.Description, e.Err, tt.wantDesc, tt.cause)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if c.ClientID != tt.clientID {
				t.Fatalf("ClientID %q, want %q", c.ClientID, tt.clientID)
			}
		})
	}
}

// The claims a profile derives are kept in the verified-token cache: a hit
// gives the same ClientID.
func TestProfileClientIDFromCache(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := kitValidator(t, as, func(c *Config) { c.Profile = &Profile{ClientIDClaims: []string{"/cid"}} })
	tok := as.Token(map[string]any{"cid": "okta-app"})
	for i := range 2 {
		c, err := v.Validate(context.Background(), tok)
		if err != nil || c.ClientID != "okta-app" {
			t.Fatalf("validation %d: %v, ClientID %v", i, err, c)
		}
	}
	if v.verified.len() != 1 {
		t.Fatalf("verified cache holds %d tokens, want 1", v.verified.len())
	}
}

func TestProfileRefusedHeaders(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	const why = "an Entra token for Microsoft Graph; only Graph can verify it"
	v := kitValidator(t, as, func(c *Config) {
		c.Profile = &Profile{RefusedHeaders: map[string]string{"nonce": why}}
	})
	good := as.Token(nil)
	if _, err := v.Validate(context.Background(), good); err != nil {
		t.Fatalf("a token without nonce: %v", err)
	}
	withNonce := as.Token(nil, accesstokentest.WithHeader("nonce", "abc"))
	// Graph signs a hash of the nonce, so its signature never verifies as
	// written: break the signature too, and the header rule must still be
	// the cause.
	broken := withNonce[:strings.LastIndexByte(withNonce, '.')+1] + strings.Repeat("A", 342)
	for name, tok := range map[string]string{"signed": withNonce, "bad signature": broken} {
		_, err := v.Validate(context.Background(), tok)
		var e *Error
		if !errors.Is(err, ErrInvalidToken) || !errors.As(err, &e) || e.Description != descHeader || !strings.Contains(e.Err.Error(), why) {
			t.Fatalf("%s: %v (cause %v), want invalid_token with the header rule's reason", name, err, e)
		}
	}
	for _, name := range []string{"alg", "kid", "typ", "crit", ""} {
		_, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{"a"},
			Profile: &Profile{RefusedHeaders: map[string]string{name: "x"}}})
		if err == nil || !strings.Contains(err.Error(), "cannot be refused") {
			t.Fatalf("RefusedHeaders[%q]: %v, want a NewValidator error", name, err)
		}
	}
}

func TestProfileCheck(t *testing.T) {
	k := newKit(t, accesstokentest.WithIntrospectionClient("rs", "secret"))
	var calls atomic.Int32
	var mode atomic.Value
	mode.Store("ok")
	deny := errors.New("subject is on the deny list")
	check := func(ctx context.Context, c *Claims) error {
		calls.Add(1)
		if ctx == nil || c.Subject == "" {
			return errors.New("check called without context or claims")
		}
		switch mode.Load() {
		case "deny":
			return deny
		case "down":
			return fmt.Errorf("deny list: %w", ErrUnavailable)
		case "scope":
			return RequireScopes(c, "admin")
		}
		return nil
	}
	v := kitValidator(t, k.as, func(c *Config) {
		c.Profile = &Profile{Check: check}
		c.Introspection = &IntrospectionConfig{ClientID: "rs", ClientSecret: "secret"}
	})
	jwt, opaque := k.as.Token(nil), k.as.OpaqueToken(nil)
	ctx := context.Background()
	// Accepted twice each: the second JWT validation is a cache hit, the
	// second opaque one a cached answer; the check runs every time.
	for range 2 {
		for _, tok := range []string{jwt, opaque} {
			if _, err := v.Validate(ctx, tok); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		}
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("check ran %d times for 4 validations", n)
	}
	tests := []struct {
		mode    string
		want    error
		desc    string
		isCause error
	}{
		{"deny", ErrInvalidToken, descClaim, deny},
		{"down", ErrUnavailable, "", ErrUnavailable},
		{"scope", ErrInsufficientScope, descInsufficientScope, nil},
	}
	for _, tt := range tests {
		mode.Store(tt.mode)
		for _, tok := range []string{jwt, opaque} {
			_, err := v.Validate(ctx, tok)
			var e *Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || e.Description != tt.desc {
				t.Fatalf("%s: %v, want %v with description %q", tt.mode, err, tt.want, tt.desc)
			}
			if tt.isCause != nil && !errors.Is(e.Err, tt.isCause) {
				t.Fatalf("%s: cause %v, want %v", tt.mode, e.Err, tt.isCause)
			}
			if AsError(err).StatusCode() == http.StatusOK {
				t.Fatal("a refusal with status 200")
			}
		}
	}
}

// A profile's check under a MultiIssuer is the routed issuer's own.
func TestProfilePerIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, Profile: &Profile{ClientIDClaims: []string{"/azp"}}},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, Profile: &Profile{RequiredClaims: map[string]string{"/tid": "b"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	c, err := m.Validate(ctx, a.Token(map[string]any{"azp": "web"}))
	if err != nil || c.ClientID != "web" {
		t.Fatalf("issuer a: %v %+v", err, c)
	}
	if _, err := m.Validate(ctx, b.Token(map[string]any{"tid": "a"})); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("issuer b, another tid: %v", err)
	}
	c, err = m.Validate(ctx, b.Token(map[string]any{"tid": "b", "azp": "web"}))
	if err != nil || c.ClientID != "test-client" {
		t.Fatalf("issuer b: %v %+v", err, c)
	}
}

func TestProfileConfigErrors(t *testing.T) {
	for name, p := range map[string]*Profile{
		"client claim":   {ClientIDClaims: []string{"azp"}},
		"audience claim": {AudienceClaim: "client_id"},
		"required claim": {RequiredClaims: map[string]string{"tid~": "x"}},
	} {
		_, err := NewValidator(context.Background(), Config{Issuer: "https://as.example", Audience: []string{"a"}, Profile: p})
		if err == nil || !strings.Contains(err.Error(), "Profile.") {
			t.Errorf("%s: %v, want an error naming the Profile field", name, err)
		}
	}
}

// An issuer that is not a URL is accepted with JWKSURL, as Google's bare
// "accounts.google.com" needs; nothing is discovered for it.
func TestIssuerNotAURL(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := kitValidator(t, as, func(c *Config) { c.Issuer, c.JWKSURL = "accounts.example.com", as.JWKSURL() })
	c, err := v.Validate(context.Background(), as.Token(map[string]any{"iss": "accounts.example.com"}))
	if err != nil || c.Issuer != "accounts.example.com" {
		t.Fatalf("Validate: %v %+v", err, c)
	}
	if _, err := v.Validate(context.Background(), as.Token(nil)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of the URL issuer: %v", err)
	}
	for name, cfg := range map[string]Config{
		"no JWKSURL":               {Issuer: "accounts.example.com", Audience: []string{"a"}},
		"introspection discovered": {Issuer: "accounts.example.com", Audience: []string{"a"}, JWKSURL: as.JWKSURL(), Introspection: &IntrospectionConfig{ClientID: "c", ClientSecret: "s"}},
		"empty":                    {Issuer: "", Audience: []string{"a"}, JWKSURL: as.JWKSURL()},
	} {
		if _, err := NewValidator(context.Background(), cfg); err == nil {
			t.Errorf("%s: NewValidator accepted it", name)
		}
	}
}

func TestSameOriginJWKS(t *testing.T) {
	keys := accesstokentest.NewServer()
	defer keys.Close()
	var jwksURI atomic.Value
	var meta *httptest.Server
	meta = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Write(mustJSON(map[string]any{"issuer": meta.URL, "jwks_uri": jwksURI.Load()}))
		case "/keys":
			resp, err := http.Get(keys.JWKSURL())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			io.Copy(w, resp.Body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer meta.Close()
	tok := keys.Token(map[string]any{"iss": meta.URL, "aud": "api"})
	tests := []struct {
		name   string
		uri    string
		strict bool
		want   error
	}{
		{"same origin, strict", meta.URL + "/keys", true, nil},
		{"another origin, strict", keys.JWKSURL(), true, ErrUnavailable},
		{"another origin, not strict", keys.JWKSURL(), false, nil},
		{"same host, another port, strict", strings.Replace(keys.JWKSURL(), "127.0.0.1", "localhost", 1), true, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwksURI.Store(tt.uri)
			v, err := NewValidator(context.Background(), Config{Issuer: meta.URL, Audience: []string{"api"},
				Profile: &Profile{SameOriginJWKS: tt.strict}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			_, err = v.Validate(context.Background(), tok)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Validate: %v, want %v", err, tt.want)
			}
			if tt.want != nil && !strings.Contains(fmt.Sprint(AsError(err).Err), "SameOriginJWKS") {
				t.Fatalf("cause %v does not name the rule", AsError(err).Err)
			}
		})
	}
	if !sameOriginURL("https://a.example/x", "https://A.example:443/keys") || sameOriginURL("https://a.example", "http://a.example/keys") {
		t.Fatal("sameOriginURL: default ports and schemes")
	}
}

// A fetch that a token with an unknown kid started asks caches on the way
// not to answer from a stored copy; scheduled fetches do not.
func TestJWKSNoCacheOnUnknownKid(t *testing.T) {
	ri := newRawIssuer(t)
	var seen []string
	var mu sync.Mutex
	ri.srv.Config.Handler = wrapHandler(ri.srv.Config.Handler, func(r *http.Request) {
		if r.URL.Path == "/jwks" {
			mu.Lock()
			seen = append(seen, r.Header.Get("Cache-Control"))
			mu.Unlock()
		}
	})
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = 1 })
	tok := mint("RS256", ri.claims())
	unknown := signRaw("RS256", []byte(`{"alg":"RS256","kid":"not-there"}`), mustJSON(ri.claims()))
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(context.Background(), unknown); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	if err := v.keys.await(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]string(nil), seen...)
	mu.Unlock()
	if diff := cmp.Diff([]string{"", "no-cache", ""}, got); diff != "" {
		t.Fatalf("Cache-Control of the JWKS requests (-want +got):\n%s", diff)
	}
}

func wrapHandler(next http.Handler, see func(*http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		see(r)
		next.ServeHTTP(w, r)
	})
}

func TestIntrospectHook(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	var calls atomic.Int32
	var answer atomic.Value
	hook := func(ctx context.Context, client *http.Client, endpoint, token string) ([]byte, error) {
		calls.Add(1)
		if endpoint != "https://checker.example/tokeninfo" || client == nil {
			return nil, fmt.Errorf("endpoint %q", endpoint)
		}
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		a := answer.Load().(string)
		if a == "error" {
			return nil, errors.New("tokeninfo answered 502")
		}
		return []byte(a), nil
	}
	v := kitValidator(t, as, func(c *Config) {
		c.Introspection = &IntrospectionConfig{Endpoint: "https://checker.example/tokeninfo", Introspect: hook}
	})
	ctx := context.Background()
	answer.Store(`{"active":true,"sub":"bob","aud":"` + as.Audience() + `","client_id":"app","scope":"a b","exp":4102444800}`)
	c, err := v.Validate(ctx, "ya29.opaque-1")
	if err != nil {
		t.Fatal(err)
	}
	want := &Claims{Issuer: as.Issuer(), Subject: "bob", ClientID: "app", Audience: []string{as.Audience()}, Scopes: []string{"a", "b"}, Introspected: true}
	if diff := cmp.Diff(want, c, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".ExpiresAt"
	}, cmp.Ignore()), cmp.AllowUnexported(Claims{}), cmp.FilterPath(func(p cmp.Path) bool {
		s := p.Last().String()
		return s == ".raw" || s == ".via" || s == ".cnf"
	}, cmp.Ignore())); diff != "" {
		t.Fatalf("claims (-want +got):\n%s", diff)
	}
	if _, err := v.Validate(ctx, "ya29.opaque-1"); err != nil || calls.Load() != 1 {
		t.Fatalf("second validation: %v, %d calls, want 1 (cached)", err, calls.Load())
	}
	answer.Store(`{"active":false}`)
	if _, err := v.Validate(ctx, "ya29.opaque-2"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("inactive: %v", err)
	}
	answer.Store("error")
	if _, err := v.Validate(ctx, "ya29.opaque-3"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("hook error: %v", err)
	}
	answer.Store(`{"active":true,"sub":"bob","aud":"someone-else","exp":4102444800}`)
	if _, err := v.Validate(ctx, "ya29.opaque-4"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("another audience: %v", err)
	}
	_, err = NewValidator(ctx, Config{Issuer: as.Issuer(), Audience: []string{"a"},
		Introspection: &IntrospectionConfig{Introspect: hook, SignedResponses: true}})
	if err == nil {
		t.Fatal("Introspect with SignedResponses accepted")
	}
}
