package accesstoken

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventually polls cond every 10ms until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiscoveryURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://as.example", []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{"https://as.example/", []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{"https://as.example/realms/a", []string{"https://as.example/.well-known/oauth-authorization-server/realms/a", "https://as.example/realms/a/.well-known/openid-configuration"}},
	}
	for _, tt := range tests {
		if got := discoveryURLs(tt.issuer); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("discoveryURLs(%q) = %q, want %q", tt.issuer, got, tt.want)
		}
	}
}

// metadataServer serves the shared JWKS and, at the given paths, metadata
// whose issuer is issuerFor(server URL).
func metadataServer(t *testing.T, paths []string, issuerFor func(string) string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			w.Write(mustJSON(map[string]any{"issuer": issuerFor(srv.URL), "jwks_uri": srv.URL + "/keys"}))
		})
	}
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) { w.Write(defaultJWKS()) })
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDiscovery(t *testing.T) {
	same := func(u string) string { return u }
	tests := []struct {
		name   string
		paths  []string
		issuer func(string) string
		ok     bool
	}{
		{"RFC 8414", []string{"/.well-known/oauth-authorization-server"}, same, true},
		{"OpenID Connect only", []string{"/.well-known/openid-configuration"}, same, true},
		{"issuer mismatch", []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}, func(string) string { return "https://evil.example" }, false},
		{"issuer with trailing slash", []string{"/.well-known/openid-configuration"}, func(u string) string { return u + "/" }, false},
		{"no metadata", nil, same, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := metadataServer(t, tt.paths, tt.issuer)
			v, err := NewValidator(context.Background(), Config{Issuer: srv.URL, Audience: []string{"api"}, StrictStart: true})
			if !tt.ok {
				if err == nil {
					v.Close()
					t.Fatal("keys were loaded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			tok := mint("ES256", map[string]any{"iss": srv.URL, "aud": "api", "exp": time.Now().Add(time.Hour).Unix()})
			if _, err := v.Validate(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMetadataRules(t *testing.T) {
	const iss = "https://as.example"
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"good", `{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}`, true},
		{"no jwks_uri", `{"issuer":"https://as.example"}`, false},
		{"jwks_uri relative", `{"issuer":"https://as.example","jwks_uri":"/jwks"}`, false},
		{"jwks_uri file", `{"issuer":"https://as.example","jwks_uri":"file:///etc/passwd"}`, false},
		{"jwks_uri not a string", `{"issuer":"https://as.example","jwks_uri":["https://as.example/jwks"]}`, false},
		{"duplicate issuer", `{"issuer":"https://evil.example","issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}`, false},
		{"no issuer", `{"jwks_uri":"https://as.example/jwks"}`, false},
		{"bad introspection endpoint", `{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks","introspection_endpoint":"x"}`, false},
	}
	for _, tt := range tests {
		_, err := parseMetadata([]byte(tt.doc), iss)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

// TestIssuerDownAtStart: NewValidator neither fails nor waits; Validate
// answers ErrUnavailable until the issuer recovers, then accepts.
func TestIssuerDownAtStart(t *testing.T) {
	ri := newRawIssuer(t)
	ri.status.Store(http.StatusInternalServerError)
	cfg := ri.config()
	cfg.MinRefreshInterval = 10 * time.Millisecond
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewValidator failed while the issuer is down: %v", err)
	}
	defer v.Close()
	tok := mint("RS256", ri.claims())
	_, err = v.Validate(context.Background(), tok)
	if !errors.Is(err, ErrUnavailable) || AsError(err).StatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if err := v.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded while the issuer is down")
	}
	ri.status.Store(0)
	// The background retry (1s backoff) or a validation gets the keys.
	eventually(t, "keys after the issuer recovered", func() bool {
		_, err := v.Validate(context.Background(), tok)
		return err == nil
	})
}

func TestStrictStart(t *testing.T) {
	ri := newRawIssuer(t)
	ri.status.Store(http.StatusBadGateway)
	cfg := ri.config()
	cfg.StrictStart = true
	if v, err := NewValidator(context.Background(), cfg); err == nil {
		v.Close()
		t.Fatal("StrictStart succeeded while the issuer is down")
	}
}

// TestHangingIssuer: a JWKS endpoint that never answers costs a caller at
// most FetchTimeout, and NewValidator nothing.
func TestHangingIssuer(t *testing.T) {
	ri := newRawIssuer(t)
	ri.delay.Store(int64(time.Hour))
	cfg := ri.config()
	cfg.FetchTimeout = 100 * time.Millisecond
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Validate(context.Background(), mint("RS256", ri.claims()))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	// A caller's own deadline is honoured too, with a longer FetchTimeout.
	cfg.FetchTimeout = time.Hour
	v2, _ := NewValidator(context.Background(), cfg)
	defer v2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := v2.Validate(ctx, mint("RS256", ri.claims())); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// TestUnknownKIDRefresh: a token signed by a key published after the last
// fetch is accepted at once; one refresh serves every concurrent caller; and
// within MinRefreshInterval a made-up kid is refused without any request.
func TestUnknownKIDRefresh(t *testing.T) {
	ri := newRawIssuer(t)
	k := sharedTestKeys()
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaJWK("old", &k.rsa.PublicKey, nil)}}))
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = time.Hour; c.RefreshInterval = time.Hour })
	if n := ri.hits.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}

	// The issuer rotates: the new key is published under kid "p256".
	ri.setJWKS(defaultJWKS())
	ri.delay.Store(int64(200 * time.Millisecond)) // so that callers overlap
	tok := mint("ES256", ri.claims())
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Validate(context.Background(), tok)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("token with the new key refused: %v", err)
		}
	}
	if n := ri.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (start + one shared refresh)", n)
	}

	// Now within MinRefreshInterval: made-up kids may start the two fetches
	// left of the burst of 3, then cause no request and no wait.
	ri.delay.Store(0)
	for i := range 20 {
		tok := signRaw("ES256", []byte(`{"alg":"ES256","kid":"made-up-`+string(rune('a'+i))+`"}`), mustJSON(ri.claims()))
		_, err := v.Validate(context.Background(), tok)
		checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})
	}
	if n := ri.hits.Load(); n != 2+2 {
		t.Fatalf("%d fetches after made-up kids, want 4 (start + 3 started by tokens)", n)
	}
	ri.delay.Store(int64(time.Hour)) // a further fetch would hang this test
	for range 100 {
		tok := signRaw("ES256", []byte(`{"alg":"ES256","kid":"made-up-z"}`), mustJSON(ri.claims()))
		_, err := v.Validate(context.Background(), tok)
		checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})
	}
	if n := ri.hits.Load(); n != 4 {
		t.Fatalf("%d fetches, want still 4", n)
	}
}

// TestLastGoodKeysKept: failed refreshes and hostile documents keep the last
// good keys, until MaxKeyAge.
func TestLastGoodKeysKept(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) {
		c.MinRefreshInterval = time.Millisecond
		c.MaxKeyAge = 2 * time.Second
	})
	tok := mint("RS256", ri.claims())
	// A good document, but padded past the size cap.
	good := defaultJWKS()
	big := append(good[:len(good)-1:len(good)-1], `,"pad":"`...)
	big = append(big, bytes.Repeat([]byte("a"), maxJWKSBytes)...)
	big = append(big, `"}`...)
	breakages := []struct {
		name  string
		apply func()
	}{
		{"HTTP 500", func() { ri.status.Store(500) }},
		{"HTTP 404", func() { ri.status.Store(404) }},
		{"not JSON", func() { ri.setJWKS([]byte("<html>oops</html>")) }},
		{"no usable key", func() { ri.setJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)) }},
		{"empty set", func() { ri.setJWKS([]byte(`{"keys":[]}`)) }},
		{"oversized", func() { ri.setJWKS(big) }},
	}
	for _, b := range breakages {
		t.Run(b.name, func(t *testing.T) {
			ri.status.Store(0)
			ri.setJWKS(defaultJWKS())
			time.Sleep(2 * time.Millisecond)
			if err := v.Refresh(context.Background()); err != nil {
				t.Fatalf("refresh of the good document: %v", err)
			}
			b.apply()
			time.Sleep(2 * time.Millisecond)
			if err := v.Refresh(context.Background()); err == nil {
				t.Fatal("refresh reported success")
			}
			if _, err := v.Validate(context.Background(), tok); err != nil {
				t.Fatalf("last good keys not used: %v", err)
			}
		})
	}
	// The issuer stays broken: after MaxKeyAge the keys are no longer trusted.
	eventually(t, "keys to expire", func() bool {
		_, err := v.Validate(context.Background(), tok)
		return errors.Is(err, ErrUnavailable)
	})
}

// TestRemovedKeyRejected: a key the issuer withdraws stops verifying at the
// next refresh.
func TestRemovedKeyRejected(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = time.Millisecond })
	tok := mint("EdDSA", ri.claims())
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaJWK("rsa", &sharedTestKeys().rsa.PublicKey, nil)}}))
	time.Sleep(2 * time.Millisecond)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := v.Validate(context.Background(), tok)
	checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})
}

// TestPeriodicRefresh: keys are refetched on schedule without any token
// asking, and Cache-Control max-age shortens the schedule within bounds.
func TestPeriodicRefresh(t *testing.T) {
	ri := newRawIssuer(t)
	cc := "max-age=0"
	ri.cacheCtl.Store(&cc)
	ri.validator(t, func(c *Config) {
		c.RefreshInterval = time.Hour
		c.MinRefreshInterval = 20 * time.Millisecond
	})
	eventually(t, "three scheduled refreshes", func() bool { return ri.hits.Load() >= 4 })
}

func TestNextRefresh(t *testing.T) {
	s := &keySource{refresh: time.Hour, minRefresh: time.Minute}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Hour},
		{"max-age=600", 10 * time.Minute},
		{"public, max-age=600, must-revalidate", 10 * time.Minute},
		{"MAX-AGE=600", 10 * time.Minute},
		{"max-age=5", time.Minute},
		{"max-age=99999999999999999999", time.Hour},
		{"max-age=86400", time.Hour},
		{"max-age=-5", time.Hour},
		{"max-age=abc", time.Hour},
		{"no-store", time.Minute},
		{"no-cache", time.Minute},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Cache-Control", tt.header)
		}
		if got := s.nextRefresh(h); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestCloseStopsGoroutines: Close ends the refresher and any fetch under
// way, even one stuck on a hanging server.
func TestCloseStopsGoroutines(t *testing.T) {
	ri := newRawIssuer(t)
	ri.delay.Store(int64(time.Hour))
	for range 5 {
		cfg := ri.config()
		cfg.FetchTimeout = time.Hour
		hits := ri.hits.Load()
		v, err := NewValidator(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the fetch to start", func() bool { return ri.hits.Load() > hits })
		if keySourceGoroutines() == 0 {
			t.Fatal("no key source goroutine found while a fetch hangs")
		}
		v.Close()
		v.Close() // twice is fine
		// Close has waited for them; allow the instant between their last
		// deferred call and their exit.
		eventually(t, "key source goroutines to exit after Close", func() bool { return keySourceGoroutines() == 0 })
		if _, err := v.Validate(context.Background(), mint("RS256", ri.claims())); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Validate after Close: %v", err)
		}
	}
}

// keySourceGoroutines counts goroutines running key source or
// introspection code: the validator's background work.
func keySourceGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "accesstoken.(*keySource)") || strings.Contains(g, "accesstoken.(*introspector)") {
			n++
		}
	}
	return n
}
