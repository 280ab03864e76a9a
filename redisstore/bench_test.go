package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/redisstore"
)

// BenchmarkRedisValidation measures validations that make a Redis round
// trip, against a redis-server on loopback, and reports their median and
// 99th percentile (p50-µs, p99-µs) besides ns/op. Token and proof
// generation is outside the timed part.
//
//	go test -run '^$' -bench RedisValidation -benchtime 2000x ./redisstore
func BenchmarkRedisValidation(b *testing.B) {
	srv := startRedis(b)
	// ContextTimeoutEnabled, as the README advises: go-redis then honours
	// deadlines itself and redisstore needs no goroutine per call.
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := redisstore.New(rdb, "bench:")
	plain := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer plain.Close()
	plainStore := redisstore.New(plain, "bench:")
	as := newCountedAS(b, 0)
	ctx := context.Background()
	const url = "https://api.example/orders"

	replica := func(edit func(*accesstoken.Config)) *accesstoken.Validator {
		return introspectingReplica(b, as, store, edit)
	}
	var seq atomic.Int64
	type benchCase struct {
		name string
		v    *accesstoken.Validator
		next func(i int) func(*accesstoken.Validator) error
	}
	var cases []benchCase
	// Each store-backed check runs over the in-memory store and over Redis,
	// in the same run, for the ratio.
	for _, st := range []struct {
		name  string
		store accesstoken.Store
	}{{"memory", accesstoken.NewMemoryStore()}, {"redis", store}} {
		store := st.store
		cases = append(cases, benchCase{
			// One SET NX per proof (the replay cache), token from the
			// verified-token cache.
			name: "dpop-proof/" + st.name,
			v: replica(func(c *accesstoken.Config) {
				c.DPoP = &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store)}
			}),
			next: func() func(int) func(*accesstoken.Validator) error {
				key := accesstokentest.NewDPoPKey("ES256")
				token := as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key))
				return func(int) func(*accesstoken.Validator) error {
					r := &accesstoken.Request{Scheme: "DPoP", Token: token, Method: "GET", URL: url,
						DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token))}
					return func(v *accesstoken.Validator) error { _, err := v.ValidateRequest(ctx, r); return err }
				}
			}(),
		}, benchCase{
			// A JWT seen for the first time: signature, then one GET of its
			// jti in the revocation list.
			name: "revocation-first-sight/" + st.name,
			v:    replica(func(c *accesstoken.Config) { c.Revocations = accesstoken.NewRevocations(store) }),
			next: func(int) func(*accesstoken.Validator) error {
				// A new jti every time, across runs too (-count).
				token := as.Token(map[string]any{"sub": "ann", "jti": fmt.Sprint(st.name, "-", seq.Add(1))}, accesstokentest.WithAlgorithm("ES256"))
				return func(v *accesstoken.Validator) error { _, err := v.Validate(ctx, token); return err }
			},
		})
	}
	// The floor: one GET of redisstore, no validation; and the same without
	// ContextTimeoutEnabled, where each call runs in a goroutine bounded by
	// the deadline.
	cases = append(cases, benchCase{
		name: "store-get/redis",
		next: func(int) func(*accesstoken.Validator) error {
			return func(*accesstoken.Validator) error { _, _, err := store.Get(ctx, "k"); return err }
		},
	}, benchCase{
		name: "store-get/redis-without-ContextTimeoutEnabled",
		next: func(int) func(*accesstoken.Validator) error {
			return func(*accesstoken.Validator) error { _, _, err := plainStore.Get(ctx, "k"); return err }
		},
	})
	// An opaque token another replica introspected: one GET, the answer
	// judged locally (the local cache is off).
	cases = append(cases, benchCase{
		name: "introspection-shared-hit/redis",
		v:    replica(func(c *accesstoken.Config) { c.Introspection.CacheSize = -1 }),
		next: func() func(int) func(*accesstoken.Validator) error {
			token := as.OpaqueToken(map[string]any{"sub": "ann"})
			other := replica(nil)
			if _, err := other.Validate(ctx, token); err != nil {
				b.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // published after answering
			return func(int) func(*accesstoken.Validator) error {
				return func(v *accesstoken.Validator) error { _, err := v.Validate(ctx, token); return err }
			}
		}(),
	})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := c.next(-1)(c.v); err != nil {
				b.Fatal(err)
			}
			calls := as.calls.Load()
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				f := c.next(i)
				b.StartTimer()
				start := time.Now()
				err := f(c.v)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if c.name == "introspection-shared-hit/redis" && as.calls.Load() != calls {
				b.Fatal("the endpoint was asked: answers did not come from Redis")
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
