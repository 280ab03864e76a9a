package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/redisstore"
)

// checkStore runs the Store contract against s.
func checkStore(t *testing.T, s accesstoken.Store, other accesstoken.Store) {
	t.Helper()
	ctx := context.Background()
	// Keys in many hash slots, for the cluster.
	for i := range 20 {
		key := fmt.Sprintf("k-%d", i)
		if _, ok, err := s.Get(ctx, key); ok || err != nil {
			t.Fatalf("%s before Set: %v %v", key, ok, err)
		}
		if ok, err := s.SetIfAbsent(ctx, key, []byte("first"), time.Now().Add(time.Minute)); !ok || err != nil {
			t.Fatalf("%s SetIfAbsent: %v %v", key, ok, err)
		}
		if ok, err := s.SetIfAbsent(ctx, key, []byte("second"), time.Now().Add(time.Minute)); ok || err != nil {
			t.Fatalf("%s second SetIfAbsent: %v %v", key, ok, err)
		}
		if v, ok, err := s.Get(ctx, key); !ok || err != nil || string(v) != "first" {
			t.Fatalf("%s Get: %q %v %v", key, v, ok, err)
		}
		// The other store has another prefix: it does not see the key.
		if _, ok, err := other.Get(ctx, key); ok || err != nil {
			t.Fatalf("%s seen through another prefix: %v %v", key, ok, err)
		}
	}
	if err := s.Set(ctx, "k-0", []byte("replaced"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Get(ctx, "k-0"); string(v) != "replaced" {
		t.Fatalf("Set did not replace: %q", v)
	}
	// Expiry, to the millisecond.
	if err := s.Set(ctx, "short", []byte("x"), time.Now().Add(150*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "short"); !ok {
		t.Fatal("a value gone before its expiry")
	}
	time.Sleep(300 * time.Millisecond)
	if _, ok, _ := s.Get(ctx, "short"); ok {
		t.Fatal("a value kept after its expiry")
	}
	if ok, err := s.SetIfAbsent(ctx, "short", []byte("y"), time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("SetIfAbsent after expiry: %v %v", ok, err)
	}
	// An already expired value is not written.
	if err := s.Set(ctx, "past", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "past"); ok {
		t.Fatal("an expired value was written")
	}
	// ... and it replaces a live one by none, as the memory store does.
	if err := s.Set(ctx, "k-2", []byte("gone"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get(ctx, "k-2"); ok {
		t.Fatalf("a Set with an expired value left %q in place", v)
	}
}

func TestStoreSingleNode(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer rdb.Close()
	checkStore(t, redisstore.New(rdb, "api-a:"), redisstore.New(rdb, "api-b:"))
	// The prefix is on the server.
	n, err := rdb.Exists(context.Background(), "api-a:k-1").Result()
	if err != nil || n != 1 {
		t.Fatalf("api-a:k-1 on the server: %d %v", n, err)
	}
}

func TestStoreCluster(t *testing.T) {
	nodes := startCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].addr()}})
	defer rdb.Close()
	checkStore(t, redisstore.New(rdb, "api-a:"), redisstore.New(rdb, "api-b:"))
	// The keys really are spread over the three masters.
	used := 0
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.addr()})
		keys, err := c.DBSize(context.Background()).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if keys > 0 {
			used++
		}
	}
	if used != 3 {
		t.Fatalf("keys on %d of 3 masters", used)
	}
	replicas(t, redisstore.New(rdb, "cluster:"))
}

// replicas: two API replicas over one store refuse each other's DPoP
// replays and see each other's revocations within a second.
func replicas(t *testing.T, store accesstoken.Store) {
	t.Helper()
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	secret := []byte("a nonce secret shared by replicas, 32+ bytes")
	replica := func() *accesstoken.Validator {
		v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
			DPoP:        &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store), NonceSecret: secret},
			Revocations: accesstoken.NewRevocations(store),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	}
	a, b := replica(), replica()

	key := accesstokentest.NewDPoPKey("ES256")
	token := as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key))
	const url = "https://api.example/orders"
	r := &accesstoken.Request{Scheme: "DPoP", Token: token, Method: "GET", URL: url,
		DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token))}
	if _, err := a.ValidateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ValidateRequest(ctx, r); !errors.Is(err, accesstoken.ErrInvalidDPoPProof) {
		t.Fatalf("a proof replayed on another replica: %v", err)
	}

	bearer := as.Token(map[string]any{"sub": "bob", "jti": "revoke-me"})
	for _, v := range []*accesstoken.Validator{a, b} {
		if _, err := v.Validate(ctx, bearer); err != nil {
			t.Fatal(err)
		}
	}
	admin := accesstoken.NewRevocations(store)
	if err := admin.RevokeToken(ctx, "revoke-me", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := b.Validate(ctx, bearer)
		if errors.Is(err, accesstoken.ErrInvalidToken) {
			break
		}
		if err != nil || time.Since(start) > time.Second {
			t.Fatalf("revoked token on another replica after %v: %v", time.Since(start), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation seen by the other replica after %v", time.Since(start))
}

func TestReplicasSingleNode(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer rdb.Close()
	replicas(t, redisstore.New(rdb, "single:"))
}

// Redis killed, frozen and back: store calls end by their deadline, DPoP
// and revocation checks fail closed (ErrUnavailable) while Redis is gone,
// and everything works again once it is back.
func TestRedisFailures(t *testing.T) {
	srv := startRedis(t)
	for _, contextTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", contextTimeout), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: contextTimeout, MaxRetries: 1})
			defer rdb.Close()
			store := redisstore.New(rdb, "fail:")
			ctx := context.Background()
			as := accesstokentest.NewServer()
			defer as.Close()
			v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
				Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
				DPoP:         &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store)},
				Revocations:  accesstoken.NewRevocations(store),
				StoreTimeout: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			key := accesstokentest.NewDPoPKey("ES256")
			token := as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key))
			const url = "https://api.example/orders"
			request := func() error {
				_, err := v.ValidateRequest(ctx, &accesstoken.Request{Scheme: "DPoP", Token: token, Method: "GET", URL: url,
					DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token))})
				return err
			}
			if err := request(); err != nil {
				t.Fatal(err)
			}

			// Frozen: connections open, no answers.
			srv.freeze()
			start := time.Now()
			err = request()
			took := time.Since(start)
			srv.thaw()
			if !errors.Is(err, accesstoken.ErrUnavailable) {
				t.Fatalf("Redis frozen: %v, want ErrUnavailable", err)
			}
			// Bounded: two store calls of 200 ms at most, with room for a
			// slow machine; without the bound it would wait for go-redis's
			// 3 s read timeout.
			if took > 2*time.Second {
				t.Fatalf("Redis frozen: the request took %v", took)
			}
			t.Logf("Redis frozen: refused after %v", took)

			// Back.
			waitFor(t, request)
		})
	}

	// Killed mid-run, then a new server on the same port.
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: 1})
	defer rdb.Close()
	store := redisstore.New(rdb, "kill:")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := store.Set(ctx, "x", []byte("1"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		DPoP:         &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store)},
		StoreTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	key := accesstokentest.NewDPoPKey("ES256")
	token := as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key))
	const url = "https://api.example/orders"
	request := func() error {
		_, err := v.ValidateRequest(context.Background(), &accesstoken.Request{Scheme: "DPoP", Token: token, Method: "GET", URL: url,
			DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token))})
		return err
	}
	if err := request(); err != nil {
		t.Fatal(err)
	}
	srv.kill()
	if _, _, err := store.Get(ctx, "x"); err == nil {
		t.Fatal("Get from a killed Redis succeeded")
	}
	if err := request(); !errors.Is(err, accesstoken.ErrUnavailable) {
		t.Fatalf("Redis killed: %v, want ErrUnavailable", err)
	}
	srv.start()
	waitFor(t, request)
	waitFor(t, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return store.Set(ctx, "x", []byte("2"), time.Now().Add(time.Minute))
	})
}

// waitFor retries f until it succeeds, for at most 10 seconds.
func waitFor(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStoreSentinel: the store through a Sentinel client (a
// redis.UniversalClient made with MasterName), and a failover: the master
// killed, Sentinel promotes the replica, writes succeed again and a
// revocation written before the failover is still there.
func TestStoreSentinel(t *testing.T) {
	master, _, sentinel := startSentinel(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		MasterName: "accesstoken", Addrs: []string{sentinel.addr()}, ContextTimeoutEnabled: true, MaxRetries: 1,
	})
	defer rdb.Close()
	if _, ok := rdb.(*redis.Client); !ok {
		t.Fatalf("UniversalClient with MasterName is %T, want a failover *redis.Client", rdb)
	}
	checkStore(t, redisstore.New(rdb, "api-a:"), redisstore.New(rdb, "api-b:"))

	ctx := context.Background()
	store := redisstore.New(rdb, "failover:")
	admin := accesstoken.NewRevocations(store)
	if err := admin.RevokeToken(ctx, "before-failover", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Let the write reach the replica before the master dies.
	time.Sleep(200 * time.Millisecond)
	master.kill()
	start := time.Now()
	waitForWithin(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		return store.Set(ctx, "after-failover", []byte("1"), time.Now().Add(time.Minute))
	})
	t.Logf("writes succeed again %v after the master was killed", time.Since(start).Round(time.Millisecond))

	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Revocations: accesstoken.NewRevocations(store),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Validate(ctx, as.Token(map[string]any{"jti": "before-failover"})); !errors.Is(err, accesstoken.ErrInvalidToken) {
		t.Fatalf("a token revoked before the failover: %v", err)
	}
	if _, err := v.Validate(ctx, as.Token(map[string]any{"jti": "other"})); err != nil {
		t.Fatal(err)
	}
}

// waitForWithin retries f until it succeeds, for at most limit.
func waitForWithin(t *testing.T, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
