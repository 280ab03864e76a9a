package httpauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// TestPathScopes: path rules in Middleware (the request's own path) and in
// ForwardAuth (the original path from a trusted gateway), compared decoded
// and cleaned; an unknown original path needs every rule's scopes.
func TestPathScopes(t *testing.T) {
	f := newFixture(t)
	v := f.validator(t)
	opts := []httpauth.Option{
		httpauth.WithRequiredScopes("api"),
		httpauth.WithPathScopes("/admin", "admin"),
		httpauth.WithPathScopes("/orders/", "orders:read"),
		httpauth.WithTrustedProxies("127.0.0.1/32"),
	}
	mw := httpauth.Middleware(v, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	fa := httpauth.ForwardAuth(v, opts...)
	user := "Bearer " + f.as.Token(map[string]any{"scope": "api orders:read"})
	admin := "Bearer " + f.as.Token(map[string]any{"scope": "api admin orders:read"})
	const denied = `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope=`
	cases := []struct {
		name      string
		handler   http.Handler
		remote    string
		path      string
		headers   map[string]string
		auth      string
		status    int
		challenge string
	}{
		{"own path", mw, "", "/orders/7", nil, user, 200, ""},
		{"prefix itself", mw, "", "/orders", nil, user, 200, ""},
		{"admin path", mw, "", "/admin/users", nil, user, 403, denied + `"api admin"`},
		{"admin path, admin", mw, "", "/admin/users", nil, admin, 200, ""},
		{"dot segments", mw, "", "/orders/../admin/users", nil, user, 403, denied + `"api admin"`},
		{"not a prefix of a segment", mw, "", "/administration", nil, user, 200, ""},
		{"no token names the path's scopes", mw, "", "/admin", nil, "", 401, `Bearer scope="api admin"`},

		{"forwarded", fa, "127.0.0.1:9", "/auth", map[string]string{"X-Forwarded-Uri": "/admin/x?y=1"}, user, 403, denied + `"api admin"`},
		{"forwarded, other path", fa, "127.0.0.1:9", "/auth", map[string]string{"X-Original-URI": "/public"}, user, 200, ""},
		{"forwarded, encoded", fa, "127.0.0.1:9", "/auth", map[string]string{"X-Forwarded-Uri": "/%61dmin"}, user, 403, denied + `"api admin"`},
		{"forwarded, dot segments", fa, "127.0.0.1:9", "/auth", map[string]string{"X-Forwarded-Uri": "/public/../admin"}, user, 403, denied + `"api admin"`},
		{"forwarded, double slash", fa, "127.0.0.1:9", "/auth", map[string]string{"X-Forwarded-Uri": "//admin"}, user, 403, denied + `"api admin"`},
		{"untrusted peer: every rule", fa, "192.0.2.1:9", "/public", map[string]string{"X-Forwarded-Uri": "/public"}, user, 403, denied + `"api admin orders:read"`},
		{"no header: every rule", fa, "127.0.0.1:9", "/public", nil, admin, 200, ""},
		{"no header, lacking one", fa, "127.0.0.1:9", "/public", nil, user, 403, denied + `"api admin orders:read"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://api.example.com"+c.path, nil)
			if c.remote != "" {
				r.RemoteAddr = c.remote
			}
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			c.handler.ServeHTTP(w, r)
			if w.Code != c.status || w.Header().Get("WWW-Authenticate") != c.challenge {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("WWW-Authenticate"), c.status, c.challenge)
			}
		})
	}
}
