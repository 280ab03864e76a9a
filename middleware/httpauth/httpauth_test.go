package httpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// fixture is an authorization server from the test kit, a validator for it
// and an API behind the middleware, all on loopback.
type fixture struct {
	as      *accesstokentest.Server
	api     *httptest.Server
	reached atomic.Int32 // requests that reached the handler
	down    atomic.Bool  // makes the authorization server answer 503
}

func newFixture(t *testing.T, opts ...httpauth.Option) *fixture {
	t.Helper()
	f := &fixture{}
	f.as = accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f.down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	t.Cleanup(f.as.Close)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true,
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID:     accesstokentest.IntrospectionClientID,
			ClientSecret: accesstokentest.IntrospectionClientSecret,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	mux := http.NewServeMux()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reached.Add(1)
		c, ok := accesstoken.FromContext(r.Context())
		if !ok {
			io.WriteString(w, "anonymous")
			return
		}
		io.WriteString(w, "hello "+c.Subject)
	})
	mux.Handle("/open", handler)
	mux.Handle("/admin", httpauth.RequireScopes("admin", "write")(handler))
	f.api = httptest.NewServer(httpauth.Middleware(v, append([]httpauth.Option{httpauth.WithRealm("api")}, opts...)...)(mux))
	t.Cleanup(f.api.Close)
	return f
}

type response struct {
	status    int
	challenge string
	body      string
}

func (f *fixture) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if n := len(resp.Header.Values("WWW-Authenticate")); n > 1 {
		t.Fatalf("%d WWW-Authenticate headers", n)
	}
	return response{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)}
}

func (f *fixture) request(t *testing.T, method, path string, header map[string][]string, body url.Values) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, f.api.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

const (
	invalidToken = `Bearer realm="api", error="invalid_token", error_description=`
	invalidReq   = `Bearer realm="api", error="invalid_request", error_description="The request is malformed"`
)

func TestMiddleware(t *testing.T) {
	f := newFixture(t, httpauth.WithQueryToken(), httpauth.WithFormToken())
	good := f.as.Token(map[string]any{"sub": "alice", "scope": "read write admin"})
	reader := f.as.Token(map[string]any{"scope": "read"})
	expired := f.as.Token(nil, accesstokentest.WithExpiry(-time.Minute))
	otherAud := f.as.Token(map[string]any{"aud": "https://other.example"})
	tampered := good[:len(good)-6] + "AAAAAA"
	opaque := f.as.OpaqueToken(map[string]any{"sub": "carol", "scope": "admin write"})
	revoked := f.as.OpaqueToken(nil)
	f.as.Revoke(revoked)
	bearer := func(tok string) map[string][]string { return map[string][]string{"Authorization": {"Bearer " + tok}} }

	tests := []struct {
		name      string
		method    string
		path      string
		header    map[string][]string
		form      url.Values
		status    int
		challenge string // prefix
		body      string
	}{
		{"valid", "GET", "/open", bearer(good), nil, 200, "", "hello alice"},
		{"scheme lower case", "GET", "/open", map[string][]string{"Authorization": {"bearer " + good}}, nil, 200, "", "hello alice"},
		{"scheme upper case", "GET", "/open", map[string][]string{"Authorization": {"BEARER " + good}}, nil, 200, "", "hello alice"},
		{"scope granted", "GET", "/admin", bearer(good), nil, 200, "", "hello alice"},
		{"no token", "GET", "/open", nil, nil, 401, `Bearer realm="api"`, ""},
		{"basic scheme", "GET", "/open", map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, nil, 401, `Bearer realm="api"`, ""},
		{"empty bearer", "GET", "/open", map[string][]string{"Authorization": {"Bearer "}}, nil, 400, invalidReq, ""},
		{"bearer without space", "GET", "/open", map[string][]string{"Authorization": {"Bearer"}}, nil, 400, invalidReq, ""},
		{"space in token", "GET", "/open", map[string][]string{"Authorization": {"Bearer ab cd"}}, nil, 400, invalidReq, ""},
		{"quote in token", "GET", "/open", map[string][]string{"Authorization": {`Bearer ab"cd`}}, nil, 400, invalidReq, ""},
		{"two headers", "GET", "/open", map[string][]string{"Authorization": {"Bearer " + good, "Bearer " + good}}, nil, 400, invalidReq, ""},
		{"header and query", "GET", "/open?access_token=" + good, bearer(good), nil, 400, invalidReq, ""},
		{"query twice", "GET", "/open?access_token=" + good + "&access_token=" + good, nil, nil, 400, invalidReq, ""},
		{"query", "GET", "/open?access_token=" + good, nil, nil, 200, "", "hello alice"},
		{"empty query token", "GET", "/open?access_token=", nil, nil, 400, invalidReq, ""},
		{"form", "POST", "/open", nil, url.Values{"access_token": {good}}, 200, "", "hello alice"},
		{"form and header", "POST", "/open", bearer(good), url.Values{"access_token": {good}}, 400, invalidReq, ""},
		{"form and query", "POST", "/open?access_token=" + good, nil, url.Values{"access_token": {good}}, 400, invalidReq, ""},
		{"expired", "GET", "/open", bearer(expired), nil, 401, invalidToken + `"The access token expired"`, ""},
		{"other audience", "GET", "/open", bearer(otherAud), nil, 401, invalidToken + `"The access token is meant for another audience"`, ""},
		{"tampered", "GET", "/open", bearer(tampered), nil, 401, invalidToken + `"The access token signature is invalid"`, ""},
		{"garbage", "GET", "/open", bearer("garbage"), nil, 401, invalidToken, ""},
		{"opaque", "GET", "/admin", bearer(opaque), nil, 200, "", "hello carol"},
		{"revoked opaque", "GET", "/open", bearer(revoked), nil, 401, invalidToken + `"The access token is not active"`, ""},
		{"missing scope", "GET", "/admin", bearer(reader), nil, 403,
			`Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin write"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.reached.Load()
			got := f.do(t, f.request(t, tt.method, tt.path, tt.header, tt.form))
			if got.status != tt.status {
				t.Fatalf("status %d, want %d (challenge %q)", got.status, tt.status, got.challenge)
			}
			if tt.challenge == "" && got.challenge != "" {
				t.Fatalf("unexpected challenge %q", got.challenge)
			}
			if !strings.HasPrefix(got.challenge, tt.challenge) {
				t.Fatalf("challenge %q, want prefix %q", got.challenge, tt.challenge)
			}
			if reached := f.reached.Load() > before; reached != (tt.status == 200) {
				t.Fatalf("handler reached = %v with status %d", reached, tt.status)
			}
			if tt.body != "" && got.body != tt.body {
				t.Fatalf("body %q, want %q", got.body, tt.body)
			}
		})
	}
}

// TestTokenPlacesOffByDefault: without the options, query and form tokens
// are not looked at (RFC 6750 §2.2, §2.3 are optional and leak-prone).
func TestTokenPlacesOffByDefault(t *testing.T) {
	f := newFixture(t)
	good := f.as.Token(nil)
	for _, req := range []*http.Request{
		f.request(t, "GET", "/open?access_token="+good, nil, nil),
		f.request(t, "POST", "/open", nil, url.Values{"access_token": {good}}),
	} {
		if got := f.do(t, req); got.status != 401 || got.challenge != `Bearer realm="api"` {
			t.Errorf("%s %s: %+v", req.Method, req.URL.Path, got)
		}
	}
}

func TestIssuerDown(t *testing.T) {
	f := newFixture(t)
	f.down.Store(true)
	// A key the validator has never seen forces a fetch, which fails.
	f.as.RotateKeys()
	got := f.do(t, f.request(t, "GET", "/open", map[string][]string{"Authorization": {"Bearer " + f.as.Token(nil)}}, nil))
	if got.status != 503 || got.challenge != "" {
		t.Fatalf("got %+v, want 503 without a challenge", got)
	}
}

func TestCredentialsOptional(t *testing.T) {
	f := newFixture(t, httpauth.WithCredentialsOptional())
	if got := f.do(t, f.request(t, "GET", "/open", nil, nil)); got.status != 200 || got.body != "anonymous" {
		t.Errorf("anonymous: %+v", got)
	}
	if got := f.do(t, f.request(t, "GET", "/admin", nil, nil)); got.status != 401 || got.challenge != `Bearer realm="api"` {
		t.Errorf("anonymous on a scoped route: %+v", got)
	}
	if got := f.do(t, f.request(t, "GET", "/open", map[string][]string{"Authorization": {"Bearer bad.token.here"}}, nil)); got.status != 401 {
		t.Errorf("bad token: %+v", got)
	}
}

func TestErrorHandler(t *testing.T) {
	var seen *accesstoken.Error
	f := newFixture(t, httpauth.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err *accesstoken.Error) {
		seen = err
		w.WriteHeader(499)
	}))
	got := f.do(t, f.request(t, "GET", "/open", map[string][]string{"Authorization": {"Bearer " + f.as.Token(nil, accesstokentest.WithExpiry(-time.Hour))}}, nil))
	if got.status != 499 || seen == nil || !errors.Is(seen, accesstoken.ErrTokenExpired) {
		t.Fatalf("status %d, error %v", got.status, seen)
	}
}

// fakeValidator returns a fixed error, as a user's test double would.
type fakeValidator struct{ err error }

func (f fakeValidator) Validate(context.Context, string) (*accesstoken.Claims, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &accesstoken.Claims{Subject: "fake"}, nil
}

func TestFakeValidatorErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
	}{
		{nil, 200},
		{accesstoken.ErrInvalidToken, 401},
		{accesstoken.ErrTokenExpired, 401},
		{accesstoken.ErrUnavailable, 503},
		{context.DeadlineExceeded, 503},
		{errors.New("unclassified"), 401},
	}
	for _, tt := range tests {
		h := httpauth.Middleware(fakeValidator{tt.err})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%v: status %d, want %d", tt.err, rec.Code, tt.status)
		}
	}
}

func TestRequireScopesAlone(t *testing.T) {
	h := httpauth.RequireScopes("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached without claims")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("status %d challenge %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// BenchmarkMiddleware compares a request through Middleware with calling
// Validate directly on the same token (first-seen: cache off), so the
// adapter's own cost shows as the difference.
func BenchmarkMiddleware(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, VerifiedCacheSize: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	token := as.Token(nil, accesstokentest.WithAlgorithm("ES256"))
	handler := httpauth.Middleware(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Validate(req.Context(), token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			handler.ServeHTTP(w, req)
		}
	})
	forward := httpauth.ForwardAuth(v)
	b.Run("ForwardAuth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			forward.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
	b.Run("NewRecorder", func(b *testing.B) { // the harness's own cost in ForwardAuth above
		b.ReportAllocs()
		for b.Loop() {
			httptest.NewRecorder()
		}
	})
}

// TestScopeHierarchy: RequireScopes and ForwardAuth honour the validator's
// Profile.ScopeImplies; ForwardAuth's X-Auth-Scopes lists what the token
// carried.
func TestScopeHierarchy(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()},
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{"repo:admin": {"repo:write"}, "repo:write": {"repo:read"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	api := httpauth.Middleware(v)(httpauth.RequireScopes("repo:read")(ok))
	gate := httpauth.ForwardAuth(v, httpauth.WithRequiredScopes("repo:write"))
	for _, tt := range []struct {
		scope     string
		api, gate int
	}{
		{"repo:admin", 200, 200},
		{"repo:write", 200, 200},
		{"repo:read", 200, 403},
		{"other", 403, 403},
	} {
		for name, h := range map[string]http.Handler{"Middleware": api, "ForwardAuth": gate} {
			r := httptest.NewRequest("GET", "/repo", nil)
			r.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"scope": tt.scope}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			want := tt.api
			if name == "ForwardAuth" {
				want = tt.gate
			}
			if rec.Code != want {
				t.Errorf("%s with %q: %d, want %d", name, tt.scope, rec.Code, want)
			}
			if name == "ForwardAuth" && rec.Code == 200 && rec.Header().Get(httpauth.HeaderScopes) != tt.scope {
				t.Errorf("X-Auth-Scopes %q, want the scope carried, %q", rec.Header().Get(httpauth.HeaderScopes), tt.scope)
			}
		}
	}
}
