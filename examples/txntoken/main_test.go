package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTxnToken runs the program and checks each path it prints: both
// services see alice in the same transaction; the forged token and the
// access token sent past the gateway are refused.
func TestTxnToken(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	orders := regexp.MustCompile(`orders \(HTTP\) saw sub=alice scope="orders:write" txn=(\w+)…`).FindStringSubmatch(got)
	inventory := regexp.MustCompile(`inventory \(gRPC\) saw sub=alice scope="orders:write" txn=(\w+)…`).FindStringSubmatch(got)
	if orders == nil || inventory == nil || orders[1] != inventory[1] {
		t.Fatalf("the services did not both see alice in one transaction:\n%s", got)
	}
	if strings.Count(got, "<- 401 Unauthorized") != 2 || !strings.Contains(got, "<- 200 order placed for alice") || strings.Contains(got, "sub=admin") {
		t.Fatalf("output:\n%s", got)
	}
}
