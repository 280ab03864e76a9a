package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// server is a running "accesstoken serve" process.
type server struct {
	cmd        *exec.Cmd
	http, grpc string // bound addresses, from its log
	log        chan string
	done       chan error
}

// startServe runs the binary with args and env, and waits until it says
// where it listens.
func startServe(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, log: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log <- sc.Text()
		}
		close(s.log)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() // only the process this test started
			<-s.done
		}
	})
	deadline := time.After(10 * time.Second)
	for s.http == "" || s.grpc == "" {
		select {
		case line, ok := <-s.log:
			if !ok {
				t.Fatalf("serve exited: %v", <-s.done)
			}
			if a, ok := strings.CutPrefix(line, "accesstoken serve: ForwardAuth on http://"); ok {
				s.http = a
			}
			if a, ok := strings.CutPrefix(line, "accesstoken serve: ext_authz on "); ok {
				s.grpc = a
			}
		case <-deadline:
			t.Fatal("serve did not say where it listens")
		}
	}
	return s
}

func fetch(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServe(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	s := startServe(t, nil, "--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
		"--required-scope", "orders:read", "--realm", "orders")
	base := "http://" + s.http
	if code, _, _ := fetch(t, base+"/healthz", nil); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, _, _ := fetch(t, base+"/readyz", nil); code != 200 {
		t.Fatalf("/readyz %d", code)
	}
	good := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	code, h, _ := fetch(t, base+"/any/path", http.Header{"Authorization": {"Bearer " + good}, "X-Auth-Subject": {"admin"}})
	if code != 200 || h.Get("X-Auth-Subject") != "alice" {
		t.Fatalf("ForwardAuth: %d %v", code, h)
	}
	code, h, _ = fetch(t, base+"/orders", nil)
	if code != 401 || h.Get("WWW-Authenticate") != `Bearer realm="orders", scope="orders:read"` {
		t.Fatalf("no token: %d %q", code, h.Get("WWW-Authenticate"))
	}
	code, h, _ = fetch(t, base+"/orders", http.Header{"Authorization": {"Bearer " + as.Token(map[string]any{"scope": "profile"})}})
	if code != 403 || !strings.Contains(h.Get("WWW-Authenticate"), `scope="orders:read"`) {
		t.Fatalf("missing scope: %d %q", code, h.Get("WWW-Authenticate"))
	}
	if _, _, body := fetch(t, base+"/metrics", nil); !strings.Contains(body, "accesstoken_validations_total") {
		t.Fatalf("/metrics lacks accesstoken_validations_total:\n%.500s", body)
	}

	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	check := func(token string) *authv3.CheckResponse {
		resp, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/orders",
				Headers: map[string]string{"authorization": "Bearer " + token}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := check(good); resp.GetOkResponse() == nil {
		t.Fatalf("Check: %v", resp)
	}
	if resp := check(as.Token(map[string]any{"scope": "profile"})); resp.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Fatalf("Check without the scope: %v", resp)
	}

	// SIGTERM: stop taking requests, finish, exit 0.
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// A server starts while its issuer is down, answers 503 and not ready, and
// serves once the issuer is up (the library's rule).
func TestServeIssuerDown(t *testing.T) {
	as := accesstokentest.NewServer()
	issuer := as.Issuer()
	as.Close()
	s := startServe(t, nil, "--issuer", issuer, "--audience", "api", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--timeout", "1s")
	if code, _, _ := fetch(t, "http://"+s.http+"/readyz", nil); code != 503 {
		t.Fatalf("/readyz with the issuer down: %d", code)
	}
	if code, _, _ := fetch(t, "http://"+s.http+"/orders", http.Header{"Authorization": {"Bearer a.b.c"}}); code != 503 && code != 401 {
		t.Fatalf("ForwardAuth with the issuer down: %d", code)
	}
}

// Settings come from flags, then ACCESSTOKEN_* variables, then the YAML
// file; a bad one exits 2 naming it.
func TestServeSettings(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(file, []byte("issuer: "+as.Issuer()+"\naudience: [from-file]\nrealm: file\nrequired-scope:\n  - orders:read\n"), 0o600)
	s := startServe(t, []string{"ACCESSTOKEN_REALM=env", "ACCESSTOKEN_GRPC=127.0.0.1:0"}, "--config", file, "--http", "127.0.0.1:0")
	tok := func(aud string) string { return as.Token(map[string]any{"aud": aud, "scope": "orders:read"}) }
	if code, _, _ := fetch(t, "http://"+s.http+"/x", http.Header{"Authorization": {"Bearer " + tok("from-file")}}); code != 200 {
		t.Fatalf("audience from the file: %d", code)
	}
	if _, h, _ := fetch(t, "http://"+s.http+"/x", nil); h.Get("WWW-Authenticate") != `Bearer realm="env", scope="orders:read"` {
		t.Fatalf("realm: the environment must win over the file: %q", h.Get("WWW-Authenticate"))
	}

	w := newWorld(t)
	for name, tc := range map[string]struct {
		env  []string
		yaml string
		args []string
		want string
	}{
		"no issuer":                {args: []string{"--audience", "a"}, want: "--issuer and --audience are required"},
		"bad duration (env)":       {env: []string{"ACCESSTOKEN_LEEWAY=soon"}, args: []string{"--issuer", as.Issuer(), "--audience", "a"}, want: "setting leeway (ACCESSTOKEN_LEEWAY)"},
		"unknown key":              {yaml: "issuer: x\nnope: 1\n", want: "setting nope"},
		"list for a value":         {yaml: "issuer: [a, b]\n", want: "setting issuer"},
		"nothing to serve":         {args: []string{"--issuer", as.Issuer(), "--audience", "a", "--http", ""}, want: "setting http, grpc"},
		"bad redis URL":            {args: []string{"--issuer", as.Issuer(), "--audience", "a", "--redis", "mysql://x"}, want: "setting redis"},
		"nonces without dpop":      {args: []string{"--issuer", as.Issuer(), "--audience", "a", "--dpop-nonces"}, want: "setting dpop-nonces"},
		"bad listen address":       {args: []string{"--issuer", as.Issuer(), "--audience", "a", "--http", "127.0.0.1:http-port"}, want: "setting http"},
		"okta org server":          {args: []string{"--provider", "okta", "--issuer", "https://example.okta.com", "--audience", "a"}, want: "org authorization server"},
		"operation without method": {yaml: "issuer: x\noperation_scopes:\n  - name: push\n    scopes: [repo:write]\n", want: "setting operation_scopes"},
		"operation without scopes": {yaml: "issuer: x\noperation_scopes:\n  - method: tools/call\n", want: "item 1: no scopes"},
		"operation unknown key":    {yaml: "issuer: x\noperation_scopes:\n  - method: tools/call\n    tool: x\n    scopes: a\n", want: `no such key "tool"`},
		"operation bad template":   {yaml: "issuer: x\noperation_scopes:\n  - method: resources/read\n    name: file:///{path\n    scopes: a\n", want: "unclosed"},
		"path not rooted":          {yaml: "issuer: x\npath_scopes:\n  admin: [a]\n", want: "setting path_scopes"},
		"path without a proxy":     {yaml: "path_scopes:\n  /admin: [a]\n", args: []string{"--issuer", as.Issuer(), "--audience", "a"}, want: "setting path_scopes: ForwardAuth learns"},
		"claim bad pointer":        {yaml: "issuer: x\nclaim_headers:\n  X-Tenant: tenant\n", want: "setting claim_headers"},
		"claim identity header":    {yaml: "issuer: x\nclaim_headers:\n  x-auth-subject: /sub\n", want: "set by serve itself"},
	} {
		args := tc.args
		if tc.yaml != "" {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o600)
			args = append(args, "--config", p)
		}
		cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
		cmd.Env = append(w.env, tc.env...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d (%v), output %q; want 2 and %q", name, code, err, out, tc.want)
		}
	}
}

func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serve decrypts encrypted access tokens with the keys of --decryption-keys.
func TestServeDecryption(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "enc-1", Use: "enc"}}})
	file := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(file, doc, 0o600)
	s := startServe(t, []string{"ACCESSTOKEN_GRPC=127.0.0.1:0"}, "--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--decryption-keys", file)
	tok := as.Token(map[string]any{"sub": "erin"}, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &key.PublicKey, "enc-1", nil))
	if code, h, _ := fetch(t, "http://"+s.http+"/x", http.Header{"Authorization": {"Bearer " + tok}}); code != 200 || h.Get("X-Auth-Subject") != "erin" {
		t.Fatalf("encrypted token: %d %v", code, h)
	}
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "enc-1"}}})
	os.WriteFile(file, pub, 0o600)
	cmd := exec.Command(binary, "serve", "--issuer", as.Issuer(), "--audience", "a", "--decryption-keys", file)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "setting decryption-keys") {
		t.Fatalf("a public key: exit %d %s", cmd.ProcessState.ExitCode(), out)
	}
}

// The YAML-only rules: per-operation scopes (MCP), path scopes and claim
// headers, in ForwardAuth and ext_authz alike.
func TestServeRules(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	file := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, file, `issuer: `+as.Issuer()+`
audience: [`+as.Audience()+`]
http: 127.0.0.1:0
grpc: 127.0.0.1:0
realm: mcp
required-scope: [mcp]
trusted-proxy: [127.0.0.1/32]
operation_scopes:
  - method: tools/call
    scopes: [tools]
  - method: tools/call
    name: delete_repo
    scopes: repo:admin
  - method: resources/read
    name: "file:///{+path}"
    scopes: [files:read]
path-scopes:
  /admin: [admin]
claim_headers:
  X-Tenant: /tenant
`)
	s := startServe(t, nil, "--config", file)
	base := "http://" + s.http
	user := "Bearer " + as.Token(map[string]any{"scope": "mcp tools", "tenant": "acme"})
	const denied = `Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope=`
	for _, tc := range []struct {
		name      string
		header    http.Header
		status    int
		challenge string
	}{
		{"tool without a rule", http.Header{"Authorization": {user}, "X-Forwarded-Uri": {"/mcp"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"search"}}, 200, ""},
		{"tool with a rule", http.Header{"Authorization": {user}, "X-Forwarded-Uri": {"/mcp"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"delete_repo"}}, 403, denied + `"mcp tools repo:admin"`},
		{"resource template", http.Header{"Authorization": {user}, "X-Forwarded-Uri": {"/mcp"}, "Mcp-Method": {"resources/read"}, "Mcp-Name": {"file:///etc/hosts"}}, 403, denied + `"mcp files:read"`},
		{"no token", http.Header{"X-Forwarded-Uri": {"/mcp"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"delete_repo"}}, 401, `Bearer realm="mcp", scope="mcp tools repo:admin"`},
		{"path", http.Header{"Authorization": {user}, "X-Forwarded-Uri": {"/admin/users"}}, 403, denied + `"mcp admin"`},
		{"no original path: every path rule", http.Header{"Authorization": {user}, "Mcp-Method": {"tools/call"}}, 403, denied + `"mcp admin tools"`},
	} {
		code, h, _ := fetch(t, base+"/auth", tc.header)
		if code != tc.status || h.Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, h.Get("WWW-Authenticate"), tc.status, tc.challenge)
		}
		if code == 200 && h.Get("X-Tenant") != "acme" {
			t.Errorf("%s: X-Tenant %q", tc.name, h.Get("X-Tenant"))
		}
	}

	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	check := func(path, body string, headers map[string]string) *authv3.CheckResponse {
		h := map[string]string{"authorization": user, "content-length": strconv.Itoa(len(body))}
		for k, v := range headers {
			h[k] = v
		}
		resp, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Scheme: "https", Host: "mcp.example.com", Path: path, Headers: h, Body: body}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo"}}`
	if resp := check("/mcp", call, nil); resp.GetDeniedResponse().GetStatus().GetCode() != 403 ||
		!strings.Contains(resp.GetDeniedResponse().String(), `scope=\"mcp tools repo:admin\"`) {
		t.Errorf("ext_authz, the tool in the body: %v", resp)
	}
	if resp := check("/mcp", call, map[string]string{"mcp-name": "search"}); resp.GetDeniedResponse().GetStatus().GetCode() != 400 ||
		!strings.Contains(resp.GetDeniedResponse().GetBody(), `"code":-32020`) {
		t.Errorf("ext_authz, header and body disagree: %v", resp)
	}
	if resp := check("/admin/x", `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, nil); resp.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Errorf("ext_authz, path rule: %v", resp)
	}
	if resp := check("/mcp", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search"}}`, nil); resp.GetOkResponse() == nil {
		t.Errorf("ext_authz, allowed: %v", resp)
	}
}
