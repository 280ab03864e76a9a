package main

import (
	"strings"
	"testing"
)

func TestChiRecipe(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"health            -> 200  ok",
		`orders, no token  -> 401 Bearer realm="orders-api" Unauthorized`,
		"orders, reader    -> 200  orders of alice",
		`admin, reader     -> 403 Bearer realm="orders-api", error="insufficient_scope", error_description="The access token lacks a required role" Forbidden`,
		"admin, admin      -> 200  admin",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}
