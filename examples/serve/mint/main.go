// Command mint is the demo issuer of examples/serve/config.yaml: on first
// run it makes an ES256 key (examples/serve/demo-key.pem, private, never
// committed) and publishes its public half as examples/serve/jwks.json;
// every run prints a token that key signs, valid for an hour, with the
// claims the config accepts. Run it from the repository's root.
//
//	go run ./examples/serve/mint [-scope orders:read] [-sub alice]
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "examples/serve", "where the key and jwks.json live")
	scope := flag.String("scope", "orders:read", "the token's scope")
	sub := flag.String("sub", "alice", "the token's subject")
	flag.Parse()
	tok, err := mint(*dir, *sub, *scope, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// key loads the demo key, or makes it and writes jwks.json.
func key(dir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dir, "demo-key.pem")
	if b, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s is not PEM", path)
		}
		return x509.ParseECPrivateKey(block.Bytes)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	pub, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	jwks, _ := json.MarshalIndent(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "demo", "alg": "ES256", "use": "sig", "x": b64(pub[1:33]), "y": b64(pub[33:]),
	}}}, "", "  ")
	return k, os.WriteFile(filepath.Join(dir, "jwks.json"), append(jwks, '\n'), 0o644)
}

func mint(dir, sub, scope string, now time.Time) (string, error) {
	k, err := key(dir)
	if err != nil {
		return "", err
	}
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "demo"})
	claims, _ := json.Marshal(map[string]any{"iss": "https://issuer.example", "aud": "orders-api", "sub": sub, "scope": scope,
		"client_id": "demo-client", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig), nil
}
