package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedReplicas are n replicas of an API introspecting at one
// authorization server through one shared store.
func sharedReplicas(t *testing.T, k *kitFixture, store Store, n int, edit func(*Config)) []*Validator {
	t.Helper()
	vs := make([]*Validator, n)
	for i := range vs {
		vs[i] = k.validator(t, func(c *Config) {
			c.Introspection.Store = store
			if edit != nil {
				edit(c)
			}
		})
	}
	return vs
}

// validateEverywhere validates each token on every replica at once, 16
// tokens at a time, and fails the test on any refusal.
func validateEverywhere(t *testing.T, vs []*Validator, tokens []string, perReplica int) {
	t.Helper()
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(tokens)*len(vs)*perReplica)
	var wg sync.WaitGroup
	for _, tok := range tokens {
		sem <- struct{}{}
		var inner sync.WaitGroup
		for _, v := range vs {
			for range perReplica {
				inner.Add(1)
				go func() {
					defer inner.Done()
					if _, err := v.Validate(context.Background(), tok); err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); inner.Wait(); <-sem }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Four replicas, 64 concurrent validations of one new opaque token: the
// lease makes it one upstream call (target: at most 2). Without the shared
// store each replica asks once.
func TestSharedIntrospectionOneToken(t *testing.T) {
	k := newKit(t)
	k.delay.Store(int64(30 * time.Millisecond))
	vs := sharedReplicas(t, k, NewMemoryStore(), 4, nil)
	validateEverywhere(t, vs, []string{k.as.OpaqueToken(nil)}, 16)
	if n := k.calls.Load(); n > 2 {
		t.Fatalf("64 validations on 4 replicas made %d upstream calls, want at most 2", n)
	}
	t.Logf("upstream calls: %d", k.calls.Load())

	k.calls.Store(0)
	alone := sharedReplicas(t, k, nil, 4, func(c *Config) { c.Introspection.Store = nil })
	validateEverywhere(t, alone, []string{k.as.OpaqueToken(nil)}, 16)
	if n := k.calls.Load(); n != 4 {
		t.Fatalf("without a shared store 4 replicas made %d calls, want 4 (the test would prove nothing)", n)
	}
}

// 1,000 distinct tokens, each seen at once by two replicas: at most 1.05
// upstream calls per token.
func TestSharedIntrospectionManyTokens(t *testing.T) {
	k := newKit(t)
	k.delay.Store(int64(2 * time.Millisecond))
	vs := sharedReplicas(t, k, NewMemoryStore(), 2, nil)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = k.as.OpaqueToken(map[string]any{"sub": fmt.Sprint("user-", i)})
	}
	validateEverywhere(t, vs, tokens, 1)
	n := k.calls.Load()
	t.Logf("1,000 tokens on 2 replicas: %d upstream calls (%.3f per token)", n, float64(n)/1000)
	if n > 1050 {
		t.Fatalf("%d upstream calls for 1,000 tokens, want at most 1,050", n)
	}
}

// A replica that has never seen a token uses the answer another replica
// stored, active or not, and judges it by its own rules.
func TestSharedIntrospectionAnswers(t *testing.T) {
	k := newKit(t)
	store := &countingStore{Store: NewMemoryStore()}
	a := k.validator(t, func(c *Config) { c.Introspection.Store = store })
	b := k.validator(t, func(c *Config) { c.Introspection.Store = store })
	other := k.validator(t, func(c *Config) { c.Introspection.Store = store; c.Audience = []string{"https://other.example"} })

	good := k.as.OpaqueToken(map[string]any{"sub": "ann"})
	dead := k.as.OpaqueToken(nil)
	k.as.Revoke(dead)
	if _, err := a.Validate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Validate(context.Background(), dead); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked opaque token: %v", err)
	}
	waitFor(t, func() bool { return store.sets.Load() >= 4 }) // 2 leases, 2 answers
	before := k.calls.Load()
	c, err := b.Validate(context.Background(), good)
	if err != nil || c.Subject != "ann" || !c.Introspected {
		t.Fatalf("replica b: %+v %v", c, err)
	}
	if _, err := b.Validate(context.Background(), dead); !errors.Is(err, ErrInvalidToken) || AsError(err).Description != descInactive {
		t.Fatalf("replica b, inactive answer: %v", err)
	}
	if _, err := other.Validate(context.Background(), good); !errors.Is(err, ErrInvalidToken) || AsError(err).Description != descAudience {
		t.Fatalf("a replica with another audience must judge the shared answer itself: %v", err)
	}
	if n := k.calls.Load() - before; n != 0 {
		t.Fatalf("replicas b and other made %d upstream calls, want 0", n)
	}

	// Keys and values never hold the token.
	ms := store.Store.(*memoryStore)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for key, v := range ms.values {
		for _, tok := range []string{good, dead} {
			if strings.Contains(key, tok) || strings.Contains(string(v.value), tok) {
				t.Fatalf("store holds a token: %q", key)
			}
		}
	}
}

// The store is an optimisation: down, frozen or holding garbage, tokens
// are still introspected, and a failing store is left alone for a while.
func TestSharedIntrospectionStoreFailures(t *testing.T) {
	k := newKit(t)
	store := &countingStore{Store: NewMemoryStore()}
	v := k.validator(t, func(c *Config) { c.Introspection.Store = store; c.StoreTimeout = 50 * time.Millisecond })

	store.down.Store(true)
	for i := range 3 {
		if _, err := v.Validate(context.Background(), k.as.OpaqueToken(nil)); err != nil {
			t.Fatalf("store down, token %d: %v", i, err)
		}
	}
	if n := store.gets.Load() + store.sets.Load(); n != 1 {
		t.Fatalf("a failed store was called %d times for 3 tokens, want 1 (then left alone)", n)
	}
	if n := k.calls.Load(); n != 3 {
		t.Fatalf("%d upstream calls, want 3", n)
	}

	// Frozen: each call ends at StoreTimeout and the token passes.
	store.down.Store(false)
	store.frozen.Store(true)
	v.intro.shared.skipTo.Store(0)
	start := time.Now()
	if _, err := v.Validate(context.Background(), k.as.OpaqueToken(nil)); err != nil {
		t.Fatalf("store frozen: %v", err)
	}
	t.Logf("validation over a frozen store took %v (StoreTimeout 50ms)", time.Since(start))

	// Garbage under a token's key: the replica asks the endpoint and
	// overwrites it.
	store.frozen.Store(false)
	v.intro.shared.skipTo.Store(0)
	for _, junk := range [][]byte{[]byte("{"), {sharedFormat, 'A', '['}, {0x7f, 'A', '{', '}'}, {sharedFormat, 'A'}} {
		tok := k.as.OpaqueToken(map[string]any{"sub": "bob"})
		key := sharedAnswerPrefix + storeKey("", v.issuer, accesstokenClientID(v), tok)
		store.Set(context.Background(), key, junk, time.Now().Add(time.Minute))
		before := k.calls.Load()
		c, err := v.Validate(context.Background(), tok)
		if err != nil || c.Subject != "bob" {
			t.Fatalf("garbage %q in the store: %+v %v", junk, c, err)
		}
		if k.calls.Load() != before+1 {
			t.Fatalf("garbage %q: the replica did not ask the endpoint", junk)
		}
		waitFor(t, func() bool {
			_, state, err := v.intro.shared.get(context.Background(), key)
			return err == nil && state == sharedAnswer
		})
		if v.intro.shared.skipTo.Load() != 0 {
			t.Fatalf("garbage %q was taken for a store failure", junk)
		}
	}
}

func accesstokenClientID(v *Validator) string { return v.intro.cfg.ClientID }

// A replica that took the lease and died: the others wait until its lease
// ends, then ask for themselves. One that took it and failed to ask tells
// the waiting replicas at once.
func TestSharedIntrospectionLeaseholderGone(t *testing.T) {
	k := newKit(t)
	store := NewMemoryStore()
	v := k.validator(t, func(c *Config) { c.Introspection.Store = store; c.FetchTimeout = 300 * time.Millisecond })
	tok := k.as.OpaqueToken(nil)
	h := storeKey("", v.issuer, accesstokenClientID(v), tok)
	store.SetIfAbsent(context.Background(), sharedLeasePrefix+h, sharedLease, time.Now().Add(300*time.Millisecond))
	start := time.Now()
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("answered after %v: the lease of another replica was not respected", waited)
	}
	if k.calls.Load() != 1 {
		t.Fatalf("%d upstream calls, want 1", k.calls.Load())
	}

	tok = k.as.OpaqueToken(nil)
	h = storeKey("", v.issuer, accesstokenClientID(v), tok)
	store.SetIfAbsent(context.Background(), sharedLeasePrefix+h, sharedLease, time.Now().Add(time.Minute))
	store.Set(context.Background(), sharedAnswerPrefix+h, sharedFailed, time.Now().Add(time.Minute))
	start = time.Now()
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 250*time.Millisecond {
		t.Fatalf("a leaseholder's failure marker was not seen: waited %v", waited)
	}
}

// When the endpoint fails under a lease, the waiting replica hears of it
// rather than waiting the lease out, and no failure is cached.
func TestSharedIntrospectionEndpointDown(t *testing.T) {
	k := newKit(t)
	store := NewMemoryStore()
	vs := sharedReplicas(t, k, store, 2, func(c *Config) { c.FetchTimeout = 5 * time.Second })
	k.down.Store(true)
	k.delay.Store(int64(50 * time.Millisecond))
	tok := k.as.OpaqueToken(nil)
	start := time.Now()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Validate(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
				t.Errorf("endpoint down: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the waiting replica sat out the lease: %v", d)
	}
	k.down.Store(false)
	if _, err := vs[0].Validate(context.Background(), tok); err != nil {
		t.Fatalf("endpoint back: %v", err)
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}
