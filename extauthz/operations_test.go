package extauthz_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/extauthz"
)

// TestOperationScopes: the MCP rules at an Envoy gateway, over grpc-go,
// keyed on the Mcp-Method and Mcp-Name headers, and on the body when the
// filter sends it (with_request_body), cross-checked with the headers.
func TestOperationScopes(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{"repo:admin": {"repo:write"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c := start(t, extauthz.NewServer(v,
		extauthz.WithRealm("mcp"),
		extauthz.WithRequiredScopes("mcp"),
		extauthz.WithOperationScopes("tools/call", "", "tools"),
		extauthz.WithOperationScopes("tools/call", "delete_repo", "repo:admin"),
		extauthz.WithOperationScopes("tools/call", "push", "repo:write"),
		extauthz.WithOperationScopes("resources/read", "file:///{+path}", "files:read"),
	))
	narrow := "Bearer " + as.Token(map[string]any{"scope": "mcp tools"})
	admin := "Bearer " + as.Token(map[string]any{"scope": "mcp tools repo:admin"})
	call := func(name string) string {
		return `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"` + name + `"}}`
	}
	b64 := func(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	cases := []struct {
		name      string
		auth      string
		headers   map[string]string
		body      string
		raw       bool // the body as raw_body (pack_as_bytes)
		status    int32
		challenge string
		rpcCode   int
	}{
		{"headers, allowed", narrow, map[string]string{"mcp-method": "tools/call", "mcp-name": "search"}, "", false, 0, "", 0},
		{"headers, tool scope missing", narrow, map[string]string{"mcp-method": "tools/call", "mcp-name": "delete_repo"}, "", false, 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp tools repo:admin"`, 0},
		{"headers, broader scope", admin, map[string]string{"mcp-method": "tools/call", "mcp-name": "push"}, "", false, 0, "", 0},
		{"headers, no token", "", map[string]string{"mcp-method": "tools/call", "mcp-name": "delete_repo"}, "", false, 401,
			`Bearer realm="mcp", scope="mcp tools repo:admin"`, 0},
		{"headers, base64 name", narrow, map[string]string{"mcp-method": "resources/read", "mcp-name": b64("file:///etc/ssh key")}, "", false, 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp files:read"`, 0},
		{"headers, repeated method", narrow, map[string]string{"mcp-method": "tools/list,tools/call"}, "", false, 400, "", -32020},

		{"body, allowed", narrow, map[string]string{"mcp-method": "tools/call", "mcp-name": "search"}, call("search"), false, 0, "", 0},
		{"body without headers names the tool", narrow, nil, call("delete_repo"), false, 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp tools repo:admin"`, 0},
		{"raw body", narrow, nil, call("delete_repo"), true, 403,
			`Bearer realm="mcp", error="insufficient_scope", error_description="The access token lacks a required scope", scope="mcp tools repo:admin"`, 0},
		{"harmless header, dangerous body", admin, map[string]string{"mcp-method": "tools/call", "mcp-name": "search"}, call("delete_repo"), false, 400, "", -32020},
		{"old protocol, mismatch", admin, map[string]string{"mcp-method": "tools/call", "mcp-name": "search", "mcp-protocol-version": "2025-06-18"}, call("delete_repo"), false, 400, "", -32020},
		{"mismatch without a token is 401 first", "", map[string]string{"mcp-name": "search"}, call("delete_repo"), false, 401,
			`Bearer realm="mcp", scope="mcp tools repo:admin"`, 0},
		{"batch", admin, nil, "[" + call("delete_repo") + "]", false, 400, "", -32600},
		{"case-variant member", admin, nil, `{"id":1,"method":"tools/list","Method":"tools/call"}`, false, 400, "", -32600},
		{"partial body", admin, map[string]string{"x-envoy-auth-partial-body": "true"}, call("search"), false, 413, "", -32600},
		{"body shorter than its length", admin, map[string]string{"content-length": "4096"}, call("search"), false, 413, "", -32600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range tc.headers {
				h[k] = v
			}
			if tc.auth != "" {
				h["authorization"] = tc.auth
			}
			method := "GET"
			if tc.body != "" {
				method = "POST"
				if _, ok := h["content-length"]; !ok {
					h["content-length"] = strconv.Itoa(len(tc.body))
				}
			}
			req := envoy(method, "https", "mcp.example.com", "/mcp", h)
			if tc.raw {
				req.Attributes.Request.Http.RawBody = []byte(tc.body)
			} else {
				req.Attributes.Request.Http.Body = tc.body
			}
			d, resp := decide(t, c, req)
			if d.Status != tc.status || d.Challenge != tc.challenge {
				t.Fatalf("decision %d %q, want %d %q", d.Status, d.Challenge, tc.status, tc.challenge)
			}
			if tc.rpcCode != 0 {
				var rpc struct {
					ID    json.RawMessage
					Error struct{ Code int }
				}
				den := resp.GetDeniedResponse()
				if err := json.Unmarshal([]byte(den.GetBody()), &rpc); err != nil || rpc.Error.Code != tc.rpcCode {
					t.Fatalf("body %q, want JSON-RPC error %d", den.GetBody(), tc.rpcCode)
				}
				if tc.rpcCode == -32020 && tc.body != "" && string(rpc.ID) != "9" {
					t.Errorf("error id %s, want the request's 9", rpc.ID)
				}
				if !hasHeader(den.GetHeaders(), "Content-Type", "application/json") {
					t.Errorf("no JSON content type: %v", den.GetHeaders())
				}
			}
		})
	}

	// Envoy's header_map (encode_raw_headers) keeps repeated fields apart:
	// two Mcp-Name fields are a mismatch even when one equals the body.
	req := envoy("POST", "https", "mcp.example.com", "/mcp", map[string]string{"authorization": admin, "content-length": strconv.Itoa(len(call("search")))})
	req.Attributes.Request.Http.Body = call("search")
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "mcp-name", RawValue: []byte("search")}, {Key: "mcp-name", RawValue: []byte("delete_repo")},
	}}
	if d, _ := decide(t, c, req); d.Status != 400 {
		t.Errorf("two Mcp-Name fields: %+v", d)
	}
}

func hasHeader(hs []*corev3.HeaderValueOption, k, v string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.GetHeader().GetKey(), k) && h.GetHeader().GetValue() == v {
			return true
		}
	}
	return false
}
