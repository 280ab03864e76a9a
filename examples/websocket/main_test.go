package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWebSocket runs the program: a client without a token is refused, one
// with a token gets the feed, and revoking the token closes the WebSocket
// with 1008 and the reason within the revocation list's bound.
func TestWebSocket(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, w := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^without a token: .*401`),
		regexp.MustCompile(`(?m)^connected as ann: tick 1$`),
		regexp.MustCompile(`(?m)^closed by the server: 1008 "The access token was revoked", [0-9.]+m?s after the revocation$`),
	} {
		if !w.MatchString(got) {
			t.Errorf("output lacks %s:\n%s", w, got)
		}
	}
	m := regexp.MustCompile(`, ([0-9.]+m?s) after the revocation`).FindStringSubmatch(got)
	if m == nil {
		return
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d > 2*time.Second {
		t.Errorf("closed %s after the revocation, want within the list's bound", m[1])
	}
}
