package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestMCP runs the program, which drives the MCP server with the SDK's own
// client, and checks each answer it prints.
func TestMCP(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	want := []*regexp.Regexp{
		// No token: 401 pointing at the metadata (RFC 9728 §5.1).
		regexp.MustCompile(`(?m)^no token: 401 Bearer resource_metadata="http://127\.0\.0\.1:\d+/\.well-known/oauth-protected-resource/mcp"$`),
		// The metadata, read by the SDK's client code, names the embedded
		// authorization server and the scope.
		regexp.MustCompile(`(?m)^its metadata: resource http://127\.0\.0\.1:\d+/mcp, authorization server http://127\.0\.0\.1:\d+, scopes \[notes\]$`),
		// Wrong scope: 403 with the scope to ask for.
		regexp.MustCompile(`(?m)^token without notes: 403 Bearer error="insufficient_scope", error_description="[^"]+", scope="notes", resource_metadata="http://127\.0\.0\.1:\d+/\.well-known/oauth-protected-resource/mcp"$`),
		// The SDK's flow found the authorization server from the 401 alone.
		regexp.MustCompile(`(?m)^the SDK's client asks http://127\.0\.0\.1:\d+/authorize for scope "notes", resource http://127\.0\.0\.1:\d+/mcp, PKCE S256$`),
		// Good token: the tool ran and saw the caller.
		regexp.MustCompile(`(?m)^whoami: you are ann \(scopes notes, MCP user ann\)$`),
	}
	for _, w := range want {
		if !w.MatchString(got) {
			t.Errorf("output lacks %s:\n%s", w, got)
		}
	}
}
