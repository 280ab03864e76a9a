// Package nginx runs a real nginx in front of httpauth.ForwardAuth, as an
// API gateway does: auth_request asks ForwardAuth, the verified identity
// goes to the backend in headers, rejections come back with their
// challenge, and the backend never sees a rejected request or a
// client-supplied identity. nginx is Debian's (installed by .ci/run); the
// test starts it on 127.0.0.1 and stops the one process it started.
package nginx

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/testserver"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// config is the gateway: every location asks ForwardAuth, then forwards the
// five identity headers it answered, overwriting whatever the client sent.
const config = `
	server {
		listen 127.0.0.1:{{port}};

		location = /_auth      { internal; proxy_pass http://{{auth}}/auth;      include {{dir}}/subrequest.conf; }
		location = /_auth_role { internal; proxy_pass http://{{auth}}/auth-role; include {{dir}}/subrequest.conf; }
		location = /_auth_down { internal; proxy_pass http://{{down}}/auth;      include {{dir}}/subrequest.conf; }

		location /orders/  { auth_request /_auth;      include {{dir}}/forward.conf; }
		location /refunds/ { auth_request /_auth_role; include {{dir}}/forward.conf; }
		location /down/    { auth_request /_auth_down; include {{dir}}/forward.conf; }

		# auth_request passes 401 and 403 on; the challenge is copied back.
		location @unauthorized { add_header WWW-Authenticate $auth_challenge always; return 401; }
		location @forbidden    { add_header WWW-Authenticate $auth_challenge always; return 403; }
		# Any other answer of the subrequest (503: keys unavailable) is an
		# nginx 500; it becomes 503, so clients retry.
		location @unavailable  { return 503; }
	}
`

const subrequest = `proxy_pass_request_body off;
proxy_set_header Content-Length "";
proxy_set_header X-Original-Method $request_method;
proxy_set_header X-Original-URI $request_uri;
`

const forward = `auth_request_set $auth_subject   $upstream_http_x_auth_subject;
auth_request_set $auth_client    $upstream_http_x_auth_client_id;
auth_request_set $auth_scopes    $upstream_http_x_auth_scopes;
auth_request_set $auth_roles     $upstream_http_x_auth_roles;
auth_request_set $auth_issuer    $upstream_http_x_auth_issuer;
auth_request_set $auth_challenge $upstream_http_www_authenticate;
proxy_set_header X-Auth-Subject   $auth_subject;
proxy_set_header X-Auth-Client-Id $auth_client;
proxy_set_header X-Auth-Scopes    $auth_scopes;
proxy_set_header X-Auth-Roles     $auth_roles;
proxy_set_header X-Auth-Issuer    $auth_issuer;
proxy_pass http://{{backend}};
error_page 401 = @unauthorized;
error_page 403 = @forbidden;
error_page 500 = @unavailable;
`

// startNginx writes the include files, starts nginx with the server block
// (internal/testserver: Debian's nginx on loopback, stopped by its PID)
// and returns its base URL.
func startNginx(t *testing.T, values map[string]string) string {
	return startNginxWith(t, config, values)
}

func startNginxWith(t *testing.T, config string, values map[string]string) string {
	dir := t.TempDir()
	values["dir"] = dir
	render := func(s string) string {
		for k, v := range values {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	for name, text := range map[string]string{"subrequest.conf": subrequest, "forward.conf": forward} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(render(text)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return testserver.Nginx(t, render(config))
}

// backend records what reaches it.
type backend struct {
	mu   sync.Mutex
	hits int
	last http.Header
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits++
	b.last = r.Header.Clone()
	fmt.Fprint(w, "backend")
}

func (b *backend) seen() (int, http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits, b.last
}

func TestNginxForwardAuth(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	auth := http.NewServeMux()
	auth.Handle("/auth", httpauth.ForwardAuth(v, httpauth.WithRealm("shop"), httpauth.WithRequiredScopes("orders:read")))
	auth.Handle("/auth-role", httpauth.ForwardAuth(v, httpauth.WithRealm("shop"), httpauth.WithRequiredRoles("refunds")))
	authSrv := httptest.NewServer(auth)
	defer authSrv.Close()

	downAS := accesstokentest.NewServer()
	downToken := downAS.Token(map[string]any{"scope": "orders:read"})
	downAS.Close() // its keys can no longer be fetched
	dv, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: downAS.Issuer(), Audience: []string{downAS.Audience()}, FetchTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dv.Close()
	downSrv := httptest.NewServer(httpauth.ForwardAuth(dv))
	defer downSrv.Close()

	be := &backend{}
	beSrv := httptest.NewServer(be)
	defer beSrv.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	gateway := startNginx(t, map[string]string{"auth": host(authSrv), "down": host(downSrv), "backend": host(beSrv)})

	good := as.Token(map[string]any{"sub": "alice", "client_id": "web", "scope": "orders:read", "roles": []string{"refunds", "Orders Admins"}})
	noRole := as.Token(map[string]any{"sub": "bob", "scope": "orders:read"})
	tests := []struct {
		name      string
		path      string
		token     string
		spoof     bool
		status    int
		challenge string
		identity  map[string]string // what the backend must see; nil: it must not be reached
	}{
		{"valid token", "/orders/7", good, false, 200, "", map[string]string{
			"X-Auth-Subject": "alice", "X-Auth-Client-Id": "web", "X-Auth-Scopes": "orders:read",
			"X-Auth-Roles": "refunds Orders%20Admins", "X-Auth-Issuer": as.Issuer()}},
		{"spoofed identity headers", "/orders/7", noRole, true, 200, "", map[string]string{
			"X-Auth-Subject": "bob", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "orders:read",
			"X-Auth-Roles": "", "X-Auth-Issuer": as.Issuer()}},
		{"role present", "/refunds/1", good, false, 200, "", map[string]string{
			"X-Auth-Subject": "alice", "X-Auth-Client-Id": "web", "X-Auth-Scopes": "orders:read",
			"X-Auth-Roles": "refunds Orders%20Admins", "X-Auth-Issuer": as.Issuer()}},
		{"no token", "/orders/7", "", true, 401, `Bearer realm="shop", scope="orders:read"`, nil},
		{"invalid token", "/orders/7", "garbage", true, 401,
			`Bearer realm="shop", error="invalid_token", error_description="The access token is not a JWT and cannot be introspected", scope="orders:read"`, nil},
		{"expired token", "/orders/7", as.Token(map[string]any{"scope": "orders:read"}, accesstokentest.WithExpiry(-time.Minute)), false, 401,
			`Bearer realm="shop", error="invalid_token", error_description="The access token expired", scope="orders:read"`, nil},
		{"scope missing", "/orders/7", as.Token(map[string]any{"scope": "profile"}), false, 403,
			`Bearer realm="shop", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"`, nil},
		{"role missing", "/refunds/1", noRole, true, 403,
			`Bearer realm="shop", error="insufficient_scope", error_description="The access token lacks a required role"`, nil},
		{"issuer down", "/down/1", downToken, false, 503, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hitsBefore, _ := be.seen()
			req, _ := http.NewRequest("GET", gateway+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.spoof {
				req.Header.Set("X-Auth-Subject", "admin")
				req.Header.Set("X-Auth-Roles", "refunds admin")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("challenge %q, want %q", got, tt.challenge)
			}
			hits, header := be.seen()
			if tt.identity == nil {
				if hits != hitsBefore {
					t.Fatalf("a rejected request reached the backend")
				}
				return
			}
			if hits != hitsBefore+1 {
				t.Fatalf("backend hits %d, want %d", hits, hitsBefore+1)
			}
			got := map[string]string{}
			for _, name := range []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scopes", "X-Auth-Roles", "X-Auth-Issuer"} {
				got[name] = strings.Join(header.Values(name), "|")
			}
			if diff := cmp.Diff(tt.identity, got); diff != "" {
				t.Errorf("backend saw (-want +got):\n%s", diff)
			}
		})
	}
	hits, _ := be.seen()
	t.Logf("nginx: %d requests, %d reached the backend", len(tests), hits)
}
