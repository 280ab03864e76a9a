package main

import (
	"strings"
	"testing"
)

// TestGateway runs the program and checks each path it prints.
func TestGateway(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"alice (clerk, stock-reader) -> gateway",
		`orders (HTTP) saw X-Auth-Subject="alice" X-Auth-Roles="clerk stock-reader"`,
		"inventory (gRPC) saw the caller's token: OK",
		"<- 200 order placed for alice",
		"bob (clerk) -> gateway",
		"inventory (gRPC) saw the caller's token: PermissionDenied",
		"<- 502 orders: inventory refused: PermissionDenied",
		`orders (HTTP) saw X-Auth-Subject="carol" X-Auth-Roles=""`,
		"<- 403 orders: the clerk role is needed",
		"someone without a token -> gateway",
		`gateway answered itself: Bearer realm="shop"`,
		"<- 401 Unauthorized",
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, `"admin"`) {
		t.Errorf("a spoofed identity reached a service:\n%s", got)
	}
}
