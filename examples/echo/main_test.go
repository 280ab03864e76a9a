package main

import (
	"strings"
	"testing"
)

func TestEchoExample(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`GET /orders  valid token    -> 200 {"orders":["A-1","A-2"],"owner":"alice"}`,
		`GET /orders  expired token  -> 401 {"message":"The access token expired"}`,
		`WWW-Authenticate: Bearer realm="orders", error="invalid_token", error_description="The access token expired"`,
		`GET /orders  missing scope  -> 403 {"message":"The access token lacks a required scope"}`,
		`GET /orders  missing token  -> 401 {"message":"Unauthorized"}`,
		`GET /healthz skipped route  -> 200 ok`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
