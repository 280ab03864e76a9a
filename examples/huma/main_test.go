package main

import (
	"strings"
	"testing"
)

func TestHumaRecipe(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"ping, no token    -> 204",
		`orders, no token  -> 401 Bearer realm="orders-api"` + "\n",
		`orders, reader    -> 200`,
		`"owner":"alice"`,
		`orders, no scope  -> 403 Bearer realm="orders-api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"`,
		`"detail":"The access token lacks a required scope"`,
		"openapi security of /orders: true",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}
