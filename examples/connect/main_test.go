package main

import (
	"strings"
	"testing"
)

func TestConnect(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, proto := range []string{"connect", "grpc", "grpc-web"} {
		section := got[strings.Index(got, "== "+proto+"\n"):]
		if next := strings.Index(section[3:], "== "); next >= 0 {
			section = section[:next+3]
		}
		for _, w := range []string{
			"health, no token   -> ok: SERVING",
			"order, no token    -> unauthenticated: Unauthorized",
			`WWW-Authenticate: Bearer realm="orders-api", DPoP realm="orders-api", algs="ES256"`,
			"order, reader      -> ok: order 7 for alice",
			"order, DPoP        -> ok: order 7 for dora",
			"watch, reader      -> permission_denied: The access token lacks a required scope",
			`scope="orders:read orders:watch"`,
			"watch, watcher     -> ok: [packed shipped]",
		} {
			if !strings.Contains(section, w) {
				t.Errorf("%s: output lacks %q:\n%s", proto, w, section)
			}
		}
	}
}
