package httpauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// opsFixture: a validator with a scope hierarchy and an MCP-like handler
// behind Middleware with operation rules; the handler records the body it
// got.
type opsFixture struct {
	as      *accesstokentest.Server
	h       http.Handler
	reached atomic.Int32
	body    atomic.Pointer[string]
}

func newOpsFixture(t *testing.T, opts ...httpauth.Option) *opsFixture {
	t.Helper()
	f := &opsFixture{as: accesstokentest.NewServer()}
	t.Cleanup(f.as.Close)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()},
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{"repo:admin": {"repo:write"}, "repo:write": {"repo:read"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	base := []httpauth.Option{
		httpauth.WithRealm("mcp"),
		httpauth.WithRequiredScopes("mcp"),
		httpauth.WithOperationScopes("tools/call", "", "tools"),
		httpauth.WithOperationScopes("tools/call", "delete_repo", "repo:admin", "tools"),
		httpauth.WithOperationScopes("tools/call", "push", "repo:write"),
		httpauth.WithOperationScopes("resources/read", "file:///{+path}", "files:read"),
		httpauth.WithOperationScopes("resources/read", "repo://{owner}/readme", "repo:read"),
		httpauth.WithOperationScopes("prompts/get", "review", "review"),
	}
	f.h = httpauth.Middleware(v, append(base, opts...)...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reached.Add(1)
		b, _ := io.ReadAll(r.Body)
		s := string(b)
		f.body.Store(&s)
	}))
	return f
}

type opsResult struct {
	status    int
	challenge string
	rpc       struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
}

func (f *opsFixture) post(t *testing.T, scope, body string, header map[string]string) opsResult {
	t.Helper()
	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if scope != "-" {
		r.Header.Set("Authorization", "Bearer "+f.as.Token(map[string]any{"scope": scope}))
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	res := opsResult{status: rec.Code, challenge: rec.Header().Get("WWW-Authenticate")}
	if rec.Header().Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.rpc); err != nil {
			t.Fatalf("a JSON-RPC error that is not JSON: %q", rec.Body.String())
		}
	}
	return res
}

func call(method, params string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":` + params + `}`
}

func TestOperationScopes(t *testing.T) {
	f := newOpsFixture(t)
	tool := func(name string) string { return call("tools/call", `{"name":"`+name+`","arguments":{}}`) }
	res := func(uri string) string { return call("resources/read", `{"uri":"`+uri+`"}`) }
	for _, tt := range []struct {
		name, scope, body string
		header            map[string]string
		status            int
		scopeAttr         string // the challenge's scope attribute, "" for none
		rpcCode           int
	}{
		{"a tool with every scope", "mcp tools repo:admin", tool("delete_repo"), nil, 200, "", 0},
		{"a tool lacking one: all named, once", "mcp tools", tool("delete_repo"), nil, 403, "mcp tools repo:admin", 0},
		{"a broader scope passes (ScopeImplies)", "mcp tools repo:admin", tool("push"), nil, 200, "", 0},
		{"a narrower one does not", "mcp tools repo:read", tool("push"), nil, 403, "mcp tools repo:write", 0},
		{"no token: 401 naming every scope", "-", tool("delete_repo"), nil, 401, "mcp tools repo:admin", 0},
		{"another tool: the method's rule only", "mcp tools", tool("echo"), nil, 200, "", 0},
		{"{+path} spans segments", "mcp files:read", res("file:///etc/app/config.yaml"), nil, 200, "", 0},
		{"{+path} rule applies", "mcp", res("file:///etc/passwd"), nil, 403, "mcp files:read", 0},
		{"{owner} is one segment", "mcp", res("repo://acme/readme"), nil, 403, "mcp repo:read", 0},
		{"{owner} matches no slash", "mcp", res("repo://acme/x/readme"), nil, 200, "", 0},
		{"a prompt", "mcp", call("prompts/get", `{"name":"review"}`), nil, 403, "mcp review", 0},
		{"tools/list: the global rule only", "mcp", call("tools/list", `{}`), nil, 200, "", 0},
		{"the global rule", "tools", call("tools/list", `{}`), nil, 403, "mcp", 0},
		{"a response (no method): the global rule only", "mcp", `{"jsonrpc":"2.0","id":1,"result":{}}`, nil, 200, "", 0},
		{"headers that agree", "mcp tools", tool("echo"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}, 200, "", 0},
		{"Mcp-Name in base64", "mcp tools", tool("echo"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?" + base64.StdEncoding.EncodeToString([]byte("echo")) + "?="}, 200, "", 0},
		{"a harmless Mcp-Name over a dangerous body", "mcp tools", tool("delete_repo"), map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}, 400, "", -32020},
		{"the same with an old protocol version", "mcp tools", tool("delete_repo"), map[string]string{"Mcp-Name": "echo", "Mcp-Protocol-Version": "2025-06-18"}, 400, "", -32020},
		{"Mcp-Method disagrees", "mcp tools", tool("echo"), map[string]string{"Mcp-Method": "tools/list"}, 400, "", -32020},
		{"Mcp-Name on a method that names nothing", "mcp", call("tools/list", `{}`), map[string]string{"Mcp-Name": "x"}, 400, "", -32020},
		{"a batch", "mcp tools", "[" + tool("echo") + "]", nil, 400, "", -32600},
		{"two values", "mcp tools", tool("echo") + tool("delete_repo"), nil, 400, "", -32700},
		{"not JSON", "mcp", `{"method":`, nil, 400, "", -32700},
		{"method twice", "mcp tools", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_repo"}}`, nil, 400, "", -32600},
		{"Method in another case", "mcp tools", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"delete_repo"}}`, nil, 400, "", -32600},
		{"only Method, in another case", "mcp", `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"delete_repo"}}`, nil, 400, "", -32600},
		{"only Params, in another case", "mcp tools", `{"jsonrpc":"2.0","id":1,"method":"tools/call","Params":{"name":"delete_repo"}}`, nil, 400, "", -32600},
		{"name twice in params", "mcp tools", call("tools/call", `{"name":"echo","name":"delete_repo"}`), nil, 400, "", -32600},
		{"NAME in params", "mcp tools", call("tools/call", `{"name":"echo","NAME":"delete_repo"}`), nil, 400, "", -32600},
		{"params with a long s (Unicode folding)", "mcp tools", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"paramſ":{"name":"delete_repo"}}`, nil, 400, "", -32600},
		{"method not a string", "mcp", `{"jsonrpc":"2.0","id":1,"method":5}`, nil, 400, "", -32600},
		{"no token and a bad body: 401 first", "-", "[1]", nil, 401, "mcp", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.reached.Load()
			got := f.post(t, tt.scope, tt.body, tt.header)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d (challenge %q)", got.status, tt.status, got.challenge)
			}
			wantScope := ""
			if tt.scopeAttr != "" {
				wantScope = `scope="` + tt.scopeAttr + `"`
			}
			if wantScope != "" && !strings.Contains(got.challenge, wantScope) {
				t.Errorf("challenge %q, want %s", got.challenge, wantScope)
			}
			if got.rpc.Error.Code != tt.rpcCode {
				t.Errorf("JSON-RPC error %d, want %d", got.rpc.Error.Code, tt.rpcCode)
			}
			if tt.rpcCode == -32020 && string(got.rpc.ID) != "7" {
				t.Errorf("the error's id is %s, want the request's, 7", got.rpc.ID)
			}
			if reached := f.reached.Load() > before; reached != (tt.status == 200) {
				t.Errorf("reached the handler: %v", reached)
			}
			if tt.status == 200 && *f.body.Load() != tt.body {
				t.Errorf("the handler got %q, not the body as sent", *f.body.Load())
			}
		})
	}
}

func TestOperationScopesLimits(t *testing.T) {
	f := newOpsFixture(t, httpauth.WithCredentialsOptional())
	big := call("tools/call", `{"name":"echo","arguments":{"x":"`+strings.Repeat("a", 5<<20)+`"}}`)
	if got := f.post(t, "mcp tools", big, nil); got.status != 413 || f.reached.Load() != 0 {
		t.Errorf("a body over 4 MiB: %d, reached %d", got.status, f.reached.Load())
	}
	// Credentials optional: an anonymous request reaches no operation with
	// a rule, and is told every scope it needs.
	if got := f.post(t, "-", call("tools/call", `{"name":"echo"}`), nil); got.status != 401 || !strings.Contains(got.challenge, `scope="mcp tools"`) {
		t.Errorf("anonymous tools/call: %d %q", got.status, got.challenge)
	}
	// GET (the SSE stream) has no body: the global rule.
	r := httptest.NewRequest("GET", "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+f.as.Token(map[string]any{"scope": "tools"}))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code != 403 {
		t.Errorf("GET without the global scope: %d", rec.Code)
	}
}

// TestForwardAuthOperationScopes: at a gateway, which sees no body, the
// operation is the one the Mcp-Method and Mcp-Name headers name.
func TestForwardAuthOperationScopes(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	defer v.Close()
	gate := httpauth.ForwardAuth(v, httpauth.WithRequiredScopes("mcp"),
		httpauth.WithOperationScopes("tools/call", "delete_repo", "repo:admin"),
		httpauth.WithOperationScopes("resources/read", "file:///{+path}", "files:read"))
	for _, tt := range []struct {
		scope, method, name string
		status              int
		scopeAttr           string
	}{
		{"mcp repo:admin", "tools/call", "delete_repo", 200, ""},
		{"mcp", "tools/call", "delete_repo", 403, "mcp repo:admin"},
		{"-", "tools/call", "delete_repo", 401, "mcp repo:admin"},
		{"mcp", "tools/call", "echo", 200, ""},
		{"mcp", "resources/read", "file:///a/b", 403, "mcp files:read"},
		{"mcp", "", "", 200, ""},
	} {
		r := httptest.NewRequest("GET", "/auth", nil)
		if tt.scope != "-" {
			r.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"scope": tt.scope}))
		}
		if tt.method != "" {
			r.Header.Set("Mcp-Method", tt.method)
			r.Header.Set("Mcp-Name", tt.name)
		}
		rec := httptest.NewRecorder()
		gate.ServeHTTP(rec, r)
		if rec.Code != tt.status || (tt.scopeAttr != "" && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="`+tt.scopeAttr+`"`)) {
			t.Errorf("%q %s %s: %d %q", tt.scope, tt.method, tt.name, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// BenchmarkOperationScopes: the cost of reading the operation from the
// body (peek, strict parse, restore, rule lookup) on a tools/call request,
// against the same request through Middleware without rules; both with a
// verified-token cache, as a server runs, so that the body work shows.
func BenchmarkOperationScopes(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	token := as.Token(map[string]any{"scope": "mcp tools repo:admin"}, accesstokentest.WithAlgorithm("ES256"))
	body := `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"delete_repo","arguments":{"owner":"acme","repo":"orders","confirm":true},"_meta":{"progressToken":"p-42"}}}`
	drain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	for _, bc := range []struct {
		name string
		opts []httpauth.Option
	}{
		{"no rules", nil},
		{"operation rules", []httpauth.Option{
			httpauth.WithRequiredScopes("mcp"),
			httpauth.WithOperationScopes("tools/call", "", "tools"),
			httpauth.WithOperationScopes("tools/call", "delete_repo", "repo:admin"),
			httpauth.WithOperationScopes("resources/read", "file:///{+path}", "files:read"),
		}},
	} {
		h := httpauth.Middleware(v, bc.opts...)(drain)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+token)
				r.Header.Set("Mcp-Method", "tools/call")
				r.Header.Set("Mcp-Name", "delete_repo")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
