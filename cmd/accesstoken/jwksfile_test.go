package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadJWKSFile(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	b := base64.RawURLEncoding.EncodeToString
	raw, _ := ec.PublicKey.Bytes() // 0x04 || X || Y
	size := 48
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "EC", "kid": "ec", "crv": "P-384", "x": b(raw[1 : 1+size]), "y": b(raw[1+size:])},
		{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b(edPub)},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
		{"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
	}})
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, doc, 0o600)
	keys, err := readJWKSFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !keys["ec"].(*ecdsa.PublicKey).Equal(&ec.PublicKey) || !keys["ed"].(ed25519.PublicKey).Equal(edPub) {
		t.Fatalf("keys %v", keys)
	}
	for name, bad := range map[string]string{
		"not JSON":  "{",
		"no key":    `{"keys":[]}`,
		"bad curve": `{"keys":[{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}]}`,
		"off curve": `{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`,
		"twice":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + b(edPub) + `"},{"kty":"OKP","crv":"Ed25519","x":"` + b(edPub) + `"}]}`,
	} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := readJWKSFile(path); err == nil || !strings.Contains(err.Error(), path) && name != "no key" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
