package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// alwaysFresh is a ReplayCache that never remembers, so that a benchmark can
// send one proof again and again; the real cache is measured on its own.
type alwaysFresh struct{}

func (alwaysFresh) Remember(context.Context, string, time.Time) (bool, error) { return true, nil }

// BenchmarkDPoP measures a first-seen DPoP-bound ES256 token with an ES256
// proof (verified-token cache off, replay cache left out) against the bearer
// path and against two bare ES256 signature checks, the floor.
func BenchmarkDPoP(b *testing.B) {
	ri := newRawIssuer(b)
	key := accesstokentest.NewDPoPKey("ES256")
	claims := ri.claims()
	claims["exp"] = 4102444800
	bearerTok := mint("ES256", claims)
	claims["cnf"] = map[string]any{"jkt": key.Thumbprint()}
	boundTok := mint("ES256", claims)
	proof := key.Proof("GET", apiURL, accesstokentest.WithAccessToken(boundTok), accesstokentest.WithIssuedAt(time.Now().Add(time.Hour)))
	v := ri.validator(b, func(c *Config) {
		c.VerifiedCacheSize = -1
		c.Leeway = 2 * time.Hour // the proof's iat is an hour ahead, so it stays valid while the benchmark runs
		c.DPoP = &DPoPConfig{Replay: alwaysFresh{}}
	})
	ctx := context.Background()
	bearer := &Request{Token: bearerTok}
	dpop := &Request{Scheme: "DPoP", Token: boundTok, DPoPProof: proof, Method: "GET", URL: apiURL}
	for _, r := range []*Request{bearer, dpop} {
		if _, err := v.ValidateRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	serialAndParallel(b, "bearer", func() error { _, err := v.ValidateRequest(ctx, bearer); return err })
	serialAndParallel(b, "dpop", func() error { _, err := v.ValidateRequest(ctx, dpop); return err })

	// The floor: the token's and the proof's signatures, bare.
	proofKey, err := parseJWK(mustJSON(jwkOf(proof)), map[string]*algorithm{})
	if err != nil {
		b.Fatal(err)
	}
	type signed struct {
		pub   *ecdsa.PublicKey
		input []byte
		r, s  *big.Int
	}
	var checks []signed
	for _, c := range []struct {
		jws string
		pub *ecdsa.PublicKey
	}{{boundTok, &sharedTestKeys().p256.PublicKey}, {proof, proofKey.public.(*ecdsa.PublicKey)}} {
		i := strings.LastIndexByte(c.jws, '.')
		sig, _ := strictB64.DecodeString(c.jws[i+1:])
		checks = append(checks, signed{c.pub, []byte(c.jws[:i]), new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	}
	floor := func() error {
		for _, c := range checks {
			d := sha256.Sum256(c.input)
			if !ecdsa.Verify(c.pub, d[:], c.r, c.s) {
				return fmt.Errorf("floor verification failed")
			}
		}
		return nil
	}
	serialAndParallel(b, "floor-two-ES256", floor)
}

// BenchmarkReplayCache measures the default replay cache at a steady 100,000
// entries: each call expires the oldest entry and remembers a new one, and
// every other call is a replay found. It reports the heap bytes per entry.
func BenchmarkReplayCache(b *testing.B) {
	const entries = 100000
	var tick int64
	start := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return start.Add(time.Duration(tick)) }
	// Each entry lives `entries` ticks, so about `entries` are held.
	fill := func() (*memoryReplay, []string) {
		c := newMemoryReplay(2*entries, clock)
		keys := make([]string, 0, entries)
		for i := range entries {
			k := fmt.Sprintf("dpop-jti:%043d", i)
			keys = append(keys, k)
			c.Remember(context.Background(), k, clock().Add(time.Duration(entries)))
			tick++
		}
		return c, keys
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, keys := fill()
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The key strings count (the cache holds them); the slice of their
	// headers is the test's own.
	perEntry := float64(after.HeapAlloc-before.HeapAlloc-uint64(cap(keys))*16) / entries
	b.Run("remember-new", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%entries] // expired by now: new again
			c.Remember(context.Background(), k, clock().Add(time.Duration(entries)))
			tick++
			i++
		}
		b.ReportMetric(perEntry, "heapB/entry")
		b.ReportMetric(float64(c.len()), "entries")
	})
	b.Run("replay-found", func(b *testing.B) {
		b.ReportAllocs()
		k := keys[0]
		c.Remember(context.Background(), k, clock().Add(time.Hour))
		for b.Loop() {
			if fresh, _ := c.Remember(context.Background(), k, clock().Add(time.Hour)); fresh {
				b.Fatal("a replay was taken for new")
			}
		}
	})
}
