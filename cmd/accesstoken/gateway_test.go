package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/testserver"
)

// gatewayConf puts a real nginx in front of two serve replicas: /a/ asks
// replica A, /b/ replica B; both pass the identity headers on to the
// backend, overwriting what the client sent, and copy challenges back.
const gatewayConf = `
	server {
		listen 127.0.0.1:{{port}};
		location = /_auth_a { internal; proxy_pass http://{{a}}; include {{dir}}/subrequest.conf; }
		location = /_auth_b { internal; proxy_pass http://{{b}}; include {{dir}}/subrequest.conf; }
		location /a/ { auth_request /_auth_a; include {{dir}}/forward.conf; }
		location /b/ { auth_request /_auth_b; include {{dir}}/forward.conf; }
		location @unauthorized { add_header WWW-Authenticate $auth_challenge always; return 401; }
		location @forbidden    { add_header WWW-Authenticate $auth_challenge always; return 403; }
		location @unavailable  { return 503; }
	}
`

const subrequestConf = `proxy_pass_request_body off;
proxy_set_header Content-Length "";
proxy_set_header X-Original-Method $request_method;
proxy_set_header X-Original-URI $request_uri;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $http_host;
`

const forwardConf = `auth_request_set $auth_subject   $upstream_http_x_auth_subject;
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

type recorder struct {
	mu   sync.Mutex
	hits int
	last http.Header
}

func (b *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits++
	b.last = r.Header.Clone()
	w.Write([]byte("backend"))
}

func (b *recorder) seen() (int, http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits, b.last
}

// TestServeBehindNginx: the built binary, twice, behind a real nginx
// (auth_request), sharing a real redis-server.
func TestServeBehindNginx(t *testing.T) {
	redisAddr := testserver.Redis(t)
	var introspections atomic.Int32
	as := accesstokentest.NewServer(accesstokentest.WithIntrospectionClient("gateway", "gateway-secret"),
		accesstokentest.WithHandler(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/introspect") {
					introspections.Add(1)
				}
				next.ServeHTTP(w, r)
			})
		}))
	defer as.Close()
	args := []string{"--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--realm", "shop",
		"--required-scope", "orders:read", "--dpop", "--redis", "redis://" + redisAddr, "--trusted-proxy", "127.0.0.1",
		"--introspection-endpoint", as.IntrospectionEndpoint(), "--introspection-client-id", "gateway"}
	env := []string{"ACCESSTOKEN_INTROSPECTION_CLIENT_SECRET=gateway-secret", "ACCESSTOKEN_GRPC=127.0.0.1:0"}
	a, b := startServe(t, env, args...), startServe(t, env, args...)

	be := &recorder{}
	backend := newHTTPServer(t, be)
	dir := t.TempDir()
	conf := strings.NewReplacer("{{a}}", a.http, "{{b}}", b.http, "{{backend}}", backend).Replace(gatewayConf)
	writeFile(t, dir+"/subrequest.conf", subrequestConf)
	writeFile(t, dir+"/forward.conf", strings.ReplaceAll(forwardConf, "{{backend}}", backend))
	base := testserver.Nginx(t, strings.ReplaceAll(conf, "{{dir}}", dir))

	good := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	spoof := http.Header{"Authorization": {"Bearer " + good}, "X-Auth-Subject": {"admin"}, "X-Auth-Roles": {"admin"}}
	code, _, body := fetch(t, base+"/a/orders/1", spoof)
	hits, seen := be.seen()
	if code != 200 || body != "backend" || hits != 1 || seen.Get("X-Auth-Subject") != "alice" || seen.Get("X-Auth-Roles") != "" {
		t.Fatalf("valid token: %d %q, backend saw %d requests, subject %q roles %q", code, body, hits, seen.Get("X-Auth-Subject"), seen.Get("X-Auth-Roles"))
	}
	for name, h := range map[string]http.Header{
		"no token":      {"X-Auth-Subject": {"admin"}},
		"missing scope": {"Authorization": {"Bearer " + as.Token(map[string]any{"scope": "profile"})}},
		"garbage":       {"Authorization": {"Bearer garbage"}},
	} {
		code, hdr, _ := fetch(t, base+"/b/orders/1", h)
		if code != 401 && code != 403 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="shop"`) {
			t.Errorf("%s: %d %q", name, code, hdr.Get("WWW-Authenticate"))
		}
	}
	if hits, _ := be.seen(); hits != 1 {
		t.Fatalf("rejected requests reached the backend: %d hits", hits)
	}

	// DPoP: the proof names the URL the client used (nginx's), which
	// serve works out from X-Forwarded-Host and X-Original-URI; replayed
	// through the other replica, the shared replay cache refuses it.
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora", "scope": "orders:read"}, accesstokentest.WithDPoPKey(key))
	proof := key.Proof("GET", base+"/a/orders/1", accesstokentest.WithAccessToken(bound))
	dpop := http.Header{"Authorization": {"DPoP " + bound}, "Dpop": {proof}}
	if code, _, _ := fetch(t, base+"/a/orders/1", dpop); code != 200 {
		t.Fatalf("DPoP through nginx: %d", code)
	}
	proofB := key.Proof("GET", base+"/b/orders/1", accesstokentest.WithAccessToken(bound), accesstokentest.WithJTI("same-jti"))
	if code, _, _ := fetch(t, base+"/b/orders/1", http.Header{"Authorization": {"DPoP " + bound}, "Dpop": {proofB}}); code != 200 {
		t.Fatalf("first use of a jti on replica B: %d", code)
	}
	proofA := key.Proof("GET", base+"/a/orders/1", accesstokentest.WithAccessToken(bound), accesstokentest.WithJTI("same-jti"))
	if code, hdr, _ := fetch(t, base+"/a/orders/1", http.Header{"Authorization": {"DPoP " + bound}, "Dpop": {proofA}}); code != 401 ||
		!strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_dpop_proof") {
		t.Fatalf("a jti replayed on the other replica: %d %q", code, hdr.Get("WWW-Authenticate"))
	}

	// An opaque token is introspected once for both replicas.
	opaque := as.OpaqueToken(map[string]any{"sub": "carol", "scope": "orders:read"})
	before := introspections.Load()
	for _, path := range []string{"/a/orders/1", "/b/orders/1", "/b/orders/2"} {
		if code, _, _ := fetch(t, base+path, http.Header{"Authorization": {"Bearer " + opaque}}); code != 200 {
			t.Fatalf("opaque token at %s: %d", path, code)
		}
	}
	if n := introspections.Load() - before; n != 1 {
		t.Fatalf("%d introspections for one opaque token on two replicas, want 1", n)
	}
}
