package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs the program and checks each outcome it prints.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"valid token     -> 200 OK",
		"body: orders of alice",
		"expired token   -> 401 Unauthorized",
		`error="invalid_token", error_description="The access token expired"`,
		"wrong audience  -> 401 Unauthorized",
		`error_description="The access token is meant for another audience"`,
		"tampered token  -> 401 Unauthorized",
		`error_description="The access token signature is invalid"`,
		"missing token   -> 401 Unauthorized",
		`WWW-Authenticate: Bearer realm="orders-api", DPoP realm="orders-api", algs="ES256"` + "\n",
		"missing scope   -> 403 Forbidden",
		`error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"`,
		"opaque token    -> 200 OK",
		"body: orders of carol",
		"revoked opaque  -> 401 Unauthorized",
		`error_description="The access token is not active"`,
		"DPoP token      -> 200 OK",
		"body: orders of dora",
		"DPoP replayed   -> 401 Unauthorized",
		`DPoP realm="orders-api", error="invalid_dpop_proof", error_description="The DPoP proof is invalid", algs="ES256"`,
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}
