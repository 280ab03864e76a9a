package main

import (
	"strings"
	"testing"
)

func TestGRPCExample(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Check valid token    -> OK (SERVING)",
		"Watch valid token    -> OK (SERVING)",
		`Check expired token  -> Unauthenticated "The access token expired"`,
		`Watch missing scope  -> PermissionDenied "The access token lacks a required scope"`,
		`www-authenticate: Bearer realm="health", error="insufficient_scope", error_description="The access token lacks a required scope", scope="health:read"`,
		`Check missing token  -> Unauthenticated "The request has no access token"`,
		`www-authenticate: Bearer realm="health"` + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
