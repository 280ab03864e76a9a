package httpauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

var identityHeaders = []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scopes", "X-Auth-Roles", "X-Auth-Issuer"}

// identity returns the identity headers of h, and which of them are set.
func identity(h http.Header, extra ...string) map[string]string {
	out := map[string]string{}
	for _, name := range append(append([]string{}, identityHeaders...), extra...) {
		if v, ok := h[http.CanonicalHeaderKey(name)]; ok {
			out[name] = strings.Join(v, "|")
		}
	}
	return out
}

func TestForwardAuth(t *testing.T) {
	f := newFixture(t)
	v := f.validator(t)
	srv := httptest.NewServer(httpauth.ForwardAuth(v, httpauth.WithRealm("gw"),
		httpauth.WithClaimHeader("X-Auth-Tenant", "/tenant"),
		httpauth.WithClaimHeader("X-Auth-Level", "/level"),
		httpauth.WithClaimHeader("X-Auth-Groups", "/groups")))
	defer srv.Close()
	strict := httptest.NewServer(httpauth.ForwardAuth(v, httpauth.WithRequiredScopes("orders:read"), httpauth.WithRequiredRoles("clerk")))
	defer strict.Close()

	full := f.as.Token(map[string]any{"sub": "alice", "client_id": "web", "scope": "orders:read orders:write",
		"roles": []string{"clerk", "Orders Admins", "100%"}, "tenant": "acme", "level": 3, "groups": []string{"a", "b c"}})
	bare := f.as.Token(map[string]any{"sub": nil, "client_id": nil, "scope": nil})
	hostile := f.as.Token(map[string]any{"sub": "eve\r\nX-Auth-Roles: admin", "scope": "x"})
	type want struct {
		status   int
		identity map[string]string
	}
	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		token  string
		spoof  bool
		want   want
	}{
		{"all claims", srv, "GET", full, false, want{200, map[string]string{
			"X-Auth-Subject": "alice", "X-Auth-Client-Id": "web", "X-Auth-Scopes": "orders:read orders:write",
			"X-Auth-Roles": "clerk Orders%20Admins 100%25", "X-Auth-Issuer": f.as.Issuer(),
			"X-Auth-Tenant": "acme", "X-Auth-Level": "3", "X-Auth-Groups": "a b%20c"}}},
		{"any method", srv, "DELETE", full, false, want{200, nil}},
		{"token with nothing for them: set and empty", srv, "POST", bare, false, want{200, map[string]string{
			"X-Auth-Subject": "", "X-Auth-Client-Id": "", "X-Auth-Scopes": "", "X-Auth-Roles": "", "X-Auth-Issuer": f.as.Issuer(),
			"X-Auth-Tenant": "", "X-Auth-Level": "", "X-Auth-Groups": ""}}},
		{"client-sent identity is not echoed", srv, "GET", bare, true, want{200, map[string]string{
			"X-Auth-Subject": "", "X-Auth-Client-Id": "", "X-Auth-Scopes": "", "X-Auth-Roles": "", "X-Auth-Issuer": f.as.Issuer(),
			"X-Auth-Tenant": "", "X-Auth-Level": "", "X-Auth-Groups": ""}}},
		{"control characters dropped", srv, "GET", hostile, false, want{200, map[string]string{
			"X-Auth-Subject": "eveX-Auth-Roles: admin", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "x", "X-Auth-Roles": "",
			"X-Auth-Issuer": f.as.Issuer(), "X-Auth-Tenant": "", "X-Auth-Level": "", "X-Auth-Groups": ""}}},
		{"no token", srv, "GET", "", true, want{401, map[string]string{}}},
		{"invalid token", srv, "GET", "garbage", true, want{401, map[string]string{}}},
		{"scope and role present", strict, "GET", full, false, want{200, nil}},
		{"scope missing", strict, "GET", f.as.Token(map[string]any{"roles": []string{"clerk"}}), false, want{403, map[string]string{}}},
		{"role missing", strict, "GET", f.as.Token(map[string]any{"scope": "orders:read"}), false, want{403, map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.srv.URL+"/auth", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.spoof {
				req.Header.Set("X-Auth-Subject", "admin")
				req.Header.Set("X-Auth-Roles", "admin")
				req.Header.Set("X-Auth-Tenant", "other")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want.status)
			}
			if resp.StatusCode != 200 && resp.StatusCode != 503 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no challenge on a rejection")
			}
			if tt.want.identity != nil {
				if diff := cmp.Diff(tt.want.identity, identity(resp.Header, "X-Auth-Tenant", "X-Auth-Level", "X-Auth-Groups")); diff != "" {
					t.Errorf("identity headers (-want +got):\n%s", diff)
				}
			}
		})
	}
	// Issuer down: 503, no identity.
	f.down.Store(true)
	down := httptest.NewServer(httpauth.ForwardAuth(f.freshValidator(t)))
	defer down.Close()
	req, _ := http.NewRequest("GET", down.URL, nil)
	req.Header.Set("Authorization", "Bearer "+full)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || len(identity(resp.Header)) != 0 {
		t.Errorf("issuer down: %d %v", resp.StatusCode, identity(resp.Header))
	}
}

// TestForwardAuthDPoP: the original method and URI come from a trusted
// proxy's headers, as nginx and Traefik send them.
func TestForwardAuthDPoP(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := newValidator(t, as, &accesstoken.DPoPConfig{})
	key := accesstokentest.NewDPoPKey("ES256")
	tok := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	for _, tt := range []struct {
		name    string
		trusted string
		status  int
	}{{"trusted gateway", "127.0.0.1", 200}, {"untrusted gateway", "10.0.0.0/8", 401}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(httpauth.ForwardAuth(v, httpauth.WithTrustedProxies(tt.trusted)))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/auth", nil) // the subrequest
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", key.Proof("POST", "https://shop.example/orders", accesstokentest.WithAccessToken(tok)))
			req.Header.Set("X-Forwarded-Method", "POST")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "shop.example")
			req.Header.Set("X-Forwarded-Uri", "/orders?draft=1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestForwardIdentity: a Go gateway in front of a backend; the backend sees
// the verified identity and never the client's.
func TestForwardIdentity(t *testing.T) {
	f := newFixture(t)
	v := f.validator(t)
	var seen http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	gateway := httptest.NewServer(httpauth.Middleware(v, httpauth.WithCredentialsOptional())(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			httpauth.ForwardIdentity(pr.Out, httpauth.WithClaimHeader("X-Tenant", "/tenant"))
		}}))
	defer gateway.Close()
	send := func(token string) http.Header {
		seen = nil
		req, _ := http.NewRequest("GET", gateway.URL+"/orders", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Auth-Subject", "admin")
		req.Header.Set("x-auth-roles", "admin")
		req.Header.Set("X-Auth-Anything", "spoof")
		req.Header.Set("X-Tenant", "other")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("gateway: %d", resp.StatusCode)
		}
		return seen
	}
	h := send(f.as.Token(map[string]any{"sub": "alice", "roles": []string{"clerk"}, "tenant": "acme"}))
	got := identity(h, "X-Auth-Anything", "X-Tenant")
	if diff := cmp.Diff(map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "",
		"X-Auth-Roles": "clerk", "X-Auth-Issuer": f.as.Issuer(), "X-Tenant": "acme"}, got); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
	// Anonymous (credentials optional): every identity header removed.
	if got := identity(send(""), "X-Auth-Anything", "X-Tenant"); len(got) != 0 {
		t.Errorf("anonymous request reached the backend with %v", got)
	}
}

// validator is a fresh validator for the fixture's issuer, keys fetched.
func (f *fixture) validator(t *testing.T) *accesstoken.Validator {
	t.Helper()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// freshValidator is a validator that has fetched nothing yet.
func (f *fixture) freshValidator(t *testing.T) *accesstoken.Validator {
	t.Helper()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, FetchTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}
