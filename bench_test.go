package accesstoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
)

// BenchmarkValidate measures Validate per algorithm. Every call does the
// whole work (there is no verified-token cache yet): parsing, key lookup,
// signature and claims. BenchmarkFloor measures the bare signature check of
// the same tokens, for the ratio.
func BenchmarkValidate(b *testing.B) {
	ri := newRawIssuer(b)
	v := ri.validator(b, nil)
	claims := ri.claims()
	claims["exp"] = 4102444800
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		tok := mint(alg, claims)
		ctx := context.Background()
		if _, err := v.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Validate(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkFloor is the bare signature check of the tokens above with the
// standard library: the least any validator can do.
func BenchmarkFloor(b *testing.B) {
	k := sharedTestKeys()
	ri := newRawIssuer(b)
	claims := ri.claims()
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		tok := mint(alg, claims)
		i := strings.LastIndexByte(tok, '.')
		input := []byte(tok[:i])
		sig, _ := strictB64.DecodeString(tok[i+1:])
		var verify func() bool
		switch alg {
		case "RS256":
			verify = func() bool {
				d := sha256.Sum256(input)
				return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, d[:], sig) == nil
			}
		case "PS256":
			verify = func() bool {
				d := sha256.Sum256(input)
				return rsa.VerifyPSS(&k.rsa.PublicKey, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			}
		case "ES256":
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			verify = func() bool {
				d := sha256.Sum256(input)
				return ecdsa.Verify(&k.p256.PublicKey, d[:], r, s)
			}
		case "EdDSA":
			pub := k.ed.Public().(ed25519.PublicKey)
			verify = func() bool { return ed25519.Verify(pub, input, sig) }
		}
		if !verify() {
			b.Fatalf("%s: floor verification failed", alg)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				verify()
			}
		})
	}
}
