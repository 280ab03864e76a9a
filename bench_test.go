package accesstoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// BenchmarkValidate measures Validate per algorithm on a first-seen token:
// the verified-token cache is off, so every call does the whole work
// (parsing, key lookup, signature, claims). BenchmarkFloor measures the bare
// signature check of the same tokens, for the ratio; BenchmarkValidateCached
// the cache hit.
func BenchmarkValidate(b *testing.B) {
	ri := newRawIssuer(b)
	v := ri.validator(b, func(c *Config) { c.VerifiedCacheSize = -1 })
	claims := ri.claims()
	claims["exp"] = 4102444800
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		tok := mint(alg, claims)
		ctx := context.Background()
		if _, err := v.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		serialAndParallel(b, alg, func() error {
			_, err := v.Validate(ctx, tok)
			return err
		})
	}
}

// serialAndParallel runs f as benchmark name and, on every core,
// name/parallel.
func serialAndParallel(b *testing.B, name string, f func() error) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkValidateCached validates one token again and again: every call
// after the first is a verified-token cache hit.
// BenchmarkValidateProfile is BenchmarkValidate's RS256 case with and
// without a Profile of the kind package provider sets (Entra's: client from
// "azp" or "appid", "tid" pinned, "nonce" refused in the header), on the
// same token, for the ratio in one run.
func BenchmarkValidateProfile(b *testing.B) {
	ri := newRawIssuer(b)
	claims := ri.claims()
	claims["exp"] = 4102444800
	claims["tid"] = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	claims["azp"] = "b0d3f2a1-5e6c-4f7a-8b9c-0d1e2f3a4b5c"
	tok := mint("RS256", claims)
	entra := &Profile{
		ClientIDClaims: []string{"/azp", "/appid"},
		RequiredClaims: map[string]string{"/tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		RefusedHeaders: map[string]string{"nonce": "Graph"},
	}
	for _, bc := range []struct {
		name    string
		profile *Profile
	}{{"none", nil}, {"entra", entra}} {
		v := ri.validator(b, func(c *Config) { c.VerifiedCacheSize = -1; c.Profile = bc.profile })
		ctx := context.Background()
		if c, err := v.Validate(ctx, tok); err != nil || bc.profile != nil && c.ClientID != claims["azp"] {
			b.Fatal(err, c)
		}
		serialAndParallel(b, bc.name, func() error {
			_, err := v.Validate(ctx, tok)
			return err
		})
	}
}

func BenchmarkValidateCached(b *testing.B) { benchCachedHit(b, nil) }

func benchCachedHit(b *testing.B, edit func(*Config)) {
	ri := newRawIssuer(b)
	v := ri.validator(b, edit)
	claims := ri.claims()
	claims["exp"] = 4102444800
	tok := mint("RS256", claims)
	ctx := context.Background()
	if _, err := v.Validate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	serialAndParallel(b, "hit", func() error {
		_, err := v.Validate(ctx, tok)
		return err
	})
}

// BenchmarkValidateCachedRevocations is BenchmarkValidateCached with a
// revocation list whose answers for the token ("jti" and "sub") are cached
// and trusted: the hot path of a replica with Config.Revocations. Compare
// with BenchmarkValidateCached in the same run.
func BenchmarkValidateCachedRevocations(b *testing.B) {
	ri := newRawIssuer(b)
	v := ri.validator(b, func(c *Config) { c.Revocations = NewRevocations(NewMemoryStore()) })
	claims := ri.claims()
	claims["exp"] = 4102444800
	claims["jti"] = "bench-1"
	tok := mint("RS256", claims)
	ctx := context.Background()
	for range 2 { // the second call finds the first version read done
		if _, err := v.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	serialAndParallel(b, "hit", func() error {
		_, err := v.Validate(ctx, tok)
		return err
	})
}

// BenchmarkValidateCachedObserved is BenchmarkValidateCached with an
// Observer that does nothing: the cost of the hook itself (timing and the
// Validation it builds). Compare with BenchmarkValidateCached in one run.
func BenchmarkValidateCachedObserved(b *testing.B) {
	benchCachedHit(b, func(c *Config) { c.Observer = nopObserver{} })
}

type nopObserver struct{}

func (nopObserver) Validated(context.Context, Validation) {}
func (nopObserver) Call(ctx context.Context, _ Call) (context.Context, func(error)) {
	return ctx, func(error) {}
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

// BenchmarkIntrospection measures the opaque-token path against the test
// kit's endpoint on loopback: a cache hit, a miss (cache off), and 64
// goroutines arriving at once with one new token (upstream calls per op
// should be 1).
func BenchmarkIntrospection(b *testing.B) {
	k := newKit(b)
	ctx := context.Background()
	v := k.validator(b, nil)
	tok := k.as.OpaqueToken(map[string]any{"scope": "read write"})
	if _, err := v.Validate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	serialAndParallel(b, "hit", func() error {
		_, err := v.Validate(ctx, tok)
		return err
	})
	uncached := k.validator(b, func(c *Config) { c.Introspection.CacheSize = -1 })
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := uncached.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("64-goroutines-one-new-token", func(b *testing.B) {
		b.ReportAllocs()
		start := k.calls.Load()
		n := 0
		for b.Loop() {
			n++
			b.StopTimer()
			fresh := k.as.OpaqueToken(nil)
			b.StartTimer()
			var wg sync.WaitGroup
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := v.Validate(ctx, fresh); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(k.calls.Load()-start)/float64(n), "upstream-calls/op")
	})
}

// BenchmarkIntrospectionCacheMemory fills a cache of 10,000 entries with
// unique tokens and reports the heap it takes per entry, for a typical
// 250-byte answer.
func BenchmarkIntrospectionCacheMemory(b *testing.B) {
	answer := `{"active":true,"aud":"api","sub":"user-12345","client_id":"app",` +
		`"scope":"orders:read orders:write profile","exp":4102444800,"iat":1700000000,"token_type":"Bearer","jti":"abcdefghijklmnop"}`
	a := newAnswerServer(b, jsonReply(answer))
	ctx := context.Background()
	const entries = 10000
	for b.Loop() {
		v := answerValidator(b, a, func(c *Config) { c.Introspection.CacheSize = entries })
		before := heapInUse()
		for i := range entries {
			if _, err := v.Validate(ctx, fmt.Sprintf("opaque-token-%08d-padding-to-a-realistic-length", i)); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		runtime.KeepAlive(v)
		b.ReportMetric((float64(after)-float64(before))/entries, "heap-B/entry")
		v.Close()
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkJWE measures encrypted tokens, in one run against their floor:
// go-jose's parse and decryption of the same JWE (the primitives this
// package calls) followed by the bare signature check of the JWS inside.
// "validate" is Validate with the verified-token cache off; "cached" is a
// repeated JWE against a repeated JWS, both from the cache.
func BenchmarkJWE(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	k := sharedTestKeys()
	keys := map[string]any{"rsa": k.rsa, "ec": k.p256}
	newV := func(size int) *Validator {
		v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()},
			Keys: map[string]any{"": &k.rsa.PublicKey}, VerifiedCacheSize: size, Decryption: &DecryptionConfig{Keys: keys}})
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	off, on := newV(-1), newV(0)
	defer off.Close()
	defer on.Close()
	ctx := context.Background()
	claims := map[string]any{"sub": "alice", "scope": "orders:read"}
	for _, bc := range []struct {
		name, alg string
		pub       any
		key       any
		kid       string
	}{
		{"RSA-OAEP-256", "RSA-OAEP-256", &k.rsa.PublicKey, k.rsa, "rsa"},
		{"ECDH-ES+A256KW", "ECDH-ES+A256KW", &k.p256.PublicKey, k.p256, "ec"},
	} {
		tok := as.Token(claims, accesstokentest.WithSigningKey("RS256", k.rsa), accesstokentest.WithEncryption(bc.alg, "A256GCM", bc.pub, bc.kid, nil))
		if _, err := off.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obj, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.KeyAlgorithm(bc.alg)}, []jose.ContentEncryption{jose.A256GCM})
				if err != nil {
					b.Fatal(err)
				}
				inner, err := obj.Decrypt(bc.key)
				if err != nil {
					b.Fatal(err)
				}
				s := string(inner)
				i := strings.LastIndexByte(s, '.')
				sig, _ := strictB64.DecodeString(s[i+1:])
				d := sha256.Sum256([]byte(s[:i]))
				if rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, d[:], sig) != nil {
					b.Fatal("signature")
				}
			}
		})
		b.Run(bc.name+"/validate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := off.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	jwe := as.Token(claims, accesstokentest.WithSigningKey("RS256", k.rsa), accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &k.rsa.PublicKey, "rsa", nil))
	jws := as.Token(claims, accesstokentest.WithSigningKey("RS256", k.rsa))
	for name, tok := range map[string]string{"cached/jws": jws, "cached/jwe": jwe} {
		if _, err := on.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := on.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
