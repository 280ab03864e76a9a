package nginx

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// mcpConfig: an MCP endpoint behind nginx, authorized per tool by
// ForwardAuth from the Mcp-Method and Mcp-Name headers (auth_request sends
// no body).
const mcpConfig = `
	server {
		listen 127.0.0.1:{{port}};
		location = /_auth { internal; proxy_pass http://{{auth}}/auth; include {{dir}}/subrequest.conf; }
		location /mcp { auth_request /_auth; include {{dir}}/forward.conf; }
		location @unauthorized { add_header WWW-Authenticate $auth_challenge always; return 401; }
		location @forbidden    { add_header WWW-Authenticate $auth_challenge always; return 403; }
		location @unavailable  { return 503; }
	}
`

// TestNginxMCP: the gateway setup of the README's MCP section, with a real
// nginx. The gateway refuses a tool the token lacks the scope for with one
// challenge naming them all; a client that sends a harmless Mcp-Name with a
// dangerous body gets past the gateway, and the MCP server behind it
// (httpauth.Middleware with the same rules, as mcpauth.RequireBearerToken
// is) refuses it with 400 and JSON-RPC -32020, so the tool never runs.
func TestNginxMCP(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rules := []httpauth.Option{
		httpauth.WithRealm("mcp"),
		httpauth.WithRequiredScopes("mcp"),
		httpauth.WithOperationScopes("tools/call", "delete_repo", "repo:admin"),
	}
	auth := http.NewServeMux()
	auth.Handle("/auth", httpauth.ForwardAuth(v, rules...))
	authSrv := httptest.NewServer(auth)
	defer authSrv.Close()

	var mu sync.Mutex
	var ran []string
	server := httptest.NewServer(httpauth.Middleware(v, rules...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Params struct{ Name string }
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &req)
		mu.Lock()
		ran = append(ran, req.Params.Name)
		mu.Unlock()
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})))
	defer server.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	gateway := startNginxWith(t, mcpConfig, map[string]string{"auth": host(authSrv), "backend": host(server)})

	user := as.Token(map[string]any{"scope": "mcp"})
	admin := as.Token(map[string]any{"scope": "mcp repo:admin"})
	call := func(tool string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
	}
	cases := []struct {
		name      string
		token     string
		header    string // Mcp-Name; "" sends no Mcp-* header
		body      string
		status    int
		challenge string
		rpcCode   int
		runs      string
	}{
		{"allowed tool", user, "search", call("search"), 200, "", 0, "search"},
		{"tool scope missing, at the gateway", user, "delete_repo", call("delete_repo"), 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp repo:admin"`, 0, ""},
		{"no token, at the gateway", "", "delete_repo", call("delete_repo"), 401, `Bearer realm="mcp", scope="mcp repo:admin"`, 0, ""},
		{"harmless header, dangerous body: the server refuses", user, "search", call("delete_repo"), 400, "", -32020, ""},
		{"no headers: the server reads the body", user, "", call("delete_repo"), 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp repo:admin"`, 0, ""},
		{"broader token", admin, "delete_repo", call("delete_repo"), 200, "", 0, "delete_repo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := len(ran)
			mu.Unlock()
			req, _ := http.NewRequest("POST", gateway+"/mcp", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.header != "" {
				req.Header.Set("Mcp-Method", "tools/call")
				req.Header.Set("Mcp-Name", tc.header)
				req.Header.Set("Mcp-Protocol-Version", "2025-06-18") // an older client: the SDK would not check
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("%d %q, want %d %q (%s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge, b)
			}
			if tc.rpcCode != 0 {
				var rpc struct{ Error struct{ Code int } }
				if json.Unmarshal(b, &rpc); rpc.Error.Code != tc.rpcCode {
					t.Errorf("body %s, want JSON-RPC error %d", b, tc.rpcCode)
				}
			}
			mu.Lock()
			got := ran[before:]
			mu.Unlock()
			if (tc.runs == "") != (len(got) == 0) || (tc.runs != "" && (len(got) != 1 || got[0] != tc.runs)) {
				t.Errorf("tools run: %q, want %q", got, tc.runs)
			}
		})
	}
}
