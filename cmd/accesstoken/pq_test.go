//go:build go1.27

package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// accesstoken check verifies an ML-DSA token from an AKP key file once the
// algorithm is listed, and says why it does not otherwise.
func TestCheckMLDSA(t *testing.T) {
	w := newWorld(t)
	as := accesstokentest.NewServer(accesstokentest.WithMLDSAKeys())
	defer as.Close()
	resp, err := http.Get(as.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	file := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, file, string(doc))
	tok := as.Token(map[string]any{"sub": "quinn"}, accesstokentest.WithAlgorithm("ML-DSA-65"))
	r := w.run(t, "", "check", "--issuer", as.Issuer(), "--audience", as.Audience(), "--jwks-file", file, "--algorithm", "ML-DSA-65", tok)
	if r.code != 0 {
		t.Fatalf("with --algorithm ML-DSA-65: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.run(t, "", "check", "--issuer", as.Issuer(), "--audience", as.Audience(), "--jwks-file", file, tok)
	if r.code != 1 || !strings.Contains(r.stdout, "ML-DSA is not in the default list") {
		t.Fatalf("without it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
