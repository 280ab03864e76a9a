package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/redisstore"
)

// countedAS is the test kit's authorization server with a count of the
// calls to its introspection endpoint, each of which takes delay.
type countedAS struct {
	*accesstokentest.Server
	calls atomic.Int32
}

func newCountedAS(t testing.TB, delay time.Duration) *countedAS {
	as := &countedAS{}
	as.Server = accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/introspect") {
				as.calls.Add(1)
				time.Sleep(delay)
			}
			next.ServeHTTP(w, r)
		})
	}))
	t.Cleanup(as.Close)
	return as
}

// introspectingReplica is one replica of an API that introspects opaque
// tokens and shares the answers through store.
func introspectingReplica(t testing.TB, as *countedAS, store accesstoken.Store, edit func(*accesstoken.Config)) *accesstoken.Validator {
	t.Helper()
	cfg := accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret,
			Store: store,
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// sharedIntrospection: two replicas on one Redis. 64 concurrent
// validations of one new opaque token cost at most 2 upstream calls, and
// 1,000 distinct tokens, each seen by both replicas at once, at most 1.05
// calls per token.
func sharedIntrospection(t *testing.T, store accesstoken.Store) {
	as := newCountedAS(t, 20*time.Millisecond)
	a, b := introspectingReplica(t, as, store, nil), introspectingReplica(t, as, store, nil)
	ctx := context.Background()

	token := as.OpaqueToken(map[string]any{"sub": "ann"})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		v := []*accesstoken.Validator{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Validate(ctx, token); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("64 concurrent validations of one token on 2 replicas: %d upstream calls", as.calls.Load())
	if n := as.calls.Load(); n > 2 {
		t.Fatalf("%d upstream calls, want at most 2", n)
	}

	as.calls.Store(0)
	tokens := make(chan string)
	errs = make(chan error, 2000)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range tokens {
				var pair sync.WaitGroup
				for _, v := range []*accesstoken.Validator{a, b} {
					pair.Add(1)
					go func() {
						defer pair.Done()
						if _, err := v.Validate(ctx, tok); err != nil {
							errs <- err
						}
					}()
				}
				pair.Wait()
			}
		}()
	}
	for i := range 1000 {
		tokens <- as.OpaqueToken(map[string]any{"sub": fmt.Sprint("user-", i)})
	}
	close(tokens)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := as.calls.Load()
	t.Logf("1,000 tokens, each on 2 replicas at once: %d upstream calls (%.3f per token)", n, float64(n)/1000)
	if n > 1050 {
		t.Fatalf("%d upstream calls for 1,000 tokens, want at most 1,050", n)
	}
}

func TestSharedIntrospectionSingleNode(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer rdb.Close()
	sharedIntrospection(t, redisstore.New(rdb, "single:"))
}

func TestSharedIntrospectionCluster(t *testing.T) {
	nodes := startCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].addr()}})
	defer rdb.Close()
	sharedIntrospection(t, redisstore.New(rdb, "cluster:"))
}

// The shared introspection cache is an optimisation: Redis frozen or
// killed, opaque tokens are still introspected (no ErrUnavailable), each
// validation bounded by StoreTimeout; Redis back, answers are shared again.
func TestSharedIntrospectionRedisFailures(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: 1})
	defer rdb.Close()
	store := redisstore.New(rdb, "fail:")
	as := newCountedAS(t, 0)
	short := func(c *accesstoken.Config) { c.StoreTimeout = 200 * time.Millisecond }
	a, b := introspectingReplica(t, as, store, short), introspectingReplica(t, as, store, short)
	ctx := context.Background()

	srv.freeze()
	start := time.Now()
	_, err := a.Validate(ctx, as.OpaqueToken(nil))
	took := time.Since(start)
	srv.thaw()
	if err != nil {
		t.Fatalf("Redis frozen: %v", err)
	}
	t.Logf("Redis frozen: token introspected after %v (StoreTimeout 200ms)", took)

	srv.kill()
	for _, v := range []*accesstoken.Validator{a, b} {
		if _, err := v.Validate(ctx, as.OpaqueToken(nil)); err != nil {
			t.Fatalf("Redis killed: %v", err)
		}
	}
	srv.start()

	// Back: once the replicas try the store again (5 s after its failure),
	// a token introspected by one is answered to the other from Redis.
	time.Sleep(5 * time.Second)
	waitFor(t, func() error {
		tok := as.OpaqueToken(nil)
		if _, err := a.Validate(ctx, tok); err != nil {
			return err
		}
		before := as.calls.Load()
		time.Sleep(50 * time.Millisecond) // a publishes after answering
		if _, err := b.Validate(ctx, tok); err != nil {
			return err
		}
		if as.calls.Load() != before {
			return errors.New("replica b asked the endpoint: the answer was not shared")
		}
		return nil
	})
}
