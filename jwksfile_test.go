package accesstoken

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJWKSFile: a file URL in Config.JWKSURL goes through the same loader
// as a jwks_uri (the command's --jwks-file is one): a JWK's alg and key_ops
// bind it, private and weak keys are refused, and the file is read again
// for an unknown kid.
func TestJWKSFile(t *testing.T) {
	k := sharedTestKeys()
	const iss = "https://issuer.example"
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	claims := func() map[string]any {
		now := time.Now().Unix()
		return map[string]any{"iss": iss, "aud": "api", "sub": "alice", "exp": now + 600, "iat": now}
	}
	start := func(t *testing.T, doc []byte) *Validator {
		t.Helper()
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		return startValidator(t, Config{Issuer: iss, Audience: []string{"api"}, JWKSURL: fileURL, MinRefreshInterval: time.Millisecond}, nil)
	}
	keys := func(jwks ...map[string]any) []byte { return mustJSON(map[string]any{"keys": jwks}) }

	t.Run("alg binds the key", func(t *testing.T) {
		v := start(t, keys(rsaJWK("rsa", &k.rsa.PublicKey, map[string]any{"alg": "PS512"})))
		if _, err := v.Validate(context.Background(), mint("RS256", claims())); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("RS256 under a key labelled PS512: %v", err)
		}
		if _, err := v.Validate(context.Background(), mint("PS512", claims())); err != nil {
			t.Errorf("PS512 under its key: %v", err)
		}
	})
	t.Run("key_ops without verify", func(t *testing.T) {
		v := start(t, keys(
			rsaJWK("rsa", &k.rsa.PublicKey, map[string]any{"key_ops": []string{"encrypt"}}),
			edJWK("ed", k.ed.Public().(ed25519.PublicKey), nil)))
		if _, err := v.Validate(context.Background(), mint("RS256", claims())); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("a key for encryption verified a signature: %v", err)
		}
		if _, err := v.Validate(context.Background(), mint("EdDSA", claims())); err != nil {
			t.Errorf("the set's other key: %v", err)
		}
	})
	t.Run("read again for an unknown kid", func(t *testing.T) {
		v := start(t, keys(edJWK("ed", k.ed.Public().(ed25519.PublicKey), nil)))
		if err := os.WriteFile(path, keys(ecJWK("p256", &k.p256.PublicKey, nil)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Validate(context.Background(), mint("ES256", claims())); err != nil {
			t.Errorf("a key added to the file: %v", err)
		}
	})
	t.Run("no file", func(t *testing.T) {
		v, err := NewValidator(context.Background(), Config{Issuer: iss, Audience: []string{"api"}, JWKSURL: fileURL + ".missing"})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if _, err := v.Validate(context.Background(), mint("EdDSA", claims())); !errors.Is(err, ErrUnavailable) {
			t.Errorf("keys from a missing file: %v", err)
		}
	})
	for _, bad := range []string{"file:jwks.json", "file://host.example/etc/jwks.json", fileURL + "?x=1", fileURL + "#f"} {
		if _, err := NewValidator(context.Background(), Config{Issuer: iss, Audience: []string{"api"}, JWKSURL: bad}); err == nil || !strings.Contains(err.Error(), "absolute path") {
			t.Errorf("JWKSURL %q: %v", bad, err)
		}
	}
}
