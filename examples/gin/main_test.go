package main

import (
	"strings"
	"testing"
)

func TestGin(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"health, no token     -> 200 OK",
		"orders, no token     -> 401 Unauthorized",
		`WWW-Authenticate: Bearer realm="orders-api"` + "\n",
		"orders, reader       -> 200 OK",
		`body: {"orders_of":"alice"}`,
		"orders, no scope     -> 403 Forbidden",
		`scope="orders:read"`,
		"delete, not admin    -> 403 Forbidden",
		`error_description="The access token lacks a required role"`,
		"delete, admin, pwd   -> 401 Unauthorized",
		`error="insufficient_user_authentication"`,
		`acr_values="mfa"`,
		"delete, admin, mfa   -> 204 No Content",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}
