//go:build go1.27

package accesstoken

import (
	"context"
	"crypto/mldsa"
	"strings"
	"testing"
	"time"
)

// BenchmarkMLDSA compares the validation of a first-seen ML-DSA token (the
// verified-token cache off) with the bare crypto/mldsa verification of the
// same signature, in the same run, and puts RS256 and ES256 beside them:
//
//	GOTOOLCHAIN=go1.27.3 go test -run '^$' -bench MLDSA -benchmem .
func BenchmarkMLDSA(b *testing.B) {
	ctx := context.Background()
	claims := map[string]any{"iss": "https://issuer.example", "aud": "api", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "scope": "read"}
	validator := func(key any, alg string) *Validator {
		v, err := NewValidator(ctx, Config{Issuer: "https://issuer.example", Audience: []string{"api"},
			Keys: map[string]any{"k": key}, Algorithms: []string{alg}, VerifiedCacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		return v
	}
	for _, p := range []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()} {
		k := newPQKey(b, p)
		tok := k.sign(b, map[string]any{"alg": k.alg, "kid": "k", "typ": "at+jwt"}, claims, "")
		v := validator(k.priv.PublicKey(), k.alg)
		i := strings.LastIndexByte(tok, '.')
		input := []byte(tok[:i])
		sig, _ := decodeSegment(tok[i+1:])
		pub := k.priv.PublicKey()
		b.Run(k.alg+"/bare mldsa.Verify", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := mldsa.Verify(pub, input, sig, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.alg+"/Validate, first seen", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	keys := sharedTestKeys()
	for _, c := range []struct {
		alg string
		key any
	}{{"RS256", &keys.rsa.PublicKey}, {"ES256", &keys.p256.PublicKey}} {
		tok := signRaw(c.alg, mustJSON(map[string]any{"alg": c.alg, "kid": "k", "typ": "at+jwt"}), mustJSON(claims))
		v := validator(c.key, c.alg)
		b.Run(c.alg+"/Validate, first seen", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
