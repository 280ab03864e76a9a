package accesstoken

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// These tests reproduce what Ory Hydra v2.3.0 showed against an earlier
// version: a key created while the validator's first fetch was under way,
// and two rotations within MinRefreshInterval.

// TestKeyPublishedDuringFetch: the JWKS handler reads its keys when the
// request arrives and answers a moment later. A token signed with a key
// published in between must not be judged by that stale answer.
func TestKeyPublishedDuringFetch(t *testing.T) {
	ri, v := keyCreatedDuringFirstFetch(t)
	tok := mint("ES256", ri.claims())
	c, err := v.Validate(context.Background(), tok)
	checkResult(t, c, err, result{})
	if n := ri.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (the one under way, then one after the token arrived)", n)
	}
}

// TestKeyPublishedDuringFetchConcurrent: many tokens arriving during the
// stale fetch share one fresh fetch.
func TestKeyPublishedDuringFetchConcurrent(t *testing.T) {
	ri, v := keyCreatedDuringFirstFetch(t)
	tok := mint("EdDSA", ri.claims())
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.Validate(context.Background(), tok)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := ri.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// TestTwoRotationsInQuickSuccession: a second key published moments after a
// refresh for the first is picked up at once, with the default
// MinRefreshInterval of 30 seconds.
func TestTwoRotationsInQuickSuccession(t *testing.T) {
	ri := newRawIssuer(t)
	k := sharedTestKeys()
	rsaOnly := rsaJWK("rsa", &k.rsa.PublicKey, nil)
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaOnly}}))
	v := ri.validator(t, nil)

	// Rotation 1: the P-256 key.
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaOnly, ecJWK("p256", &k.p256.PublicKey, nil)}}))
	if _, err := v.Validate(context.Background(), mint("ES256", ri.claims())); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	// Rotation 2, a moment later: the Ed25519 key.
	ri.setJWKS(defaultJWKS())
	if _, err := v.Validate(context.Background(), mint("EdDSA", ri.claims())); err != nil {
		t.Fatalf("second rotation within MinRefreshInterval: %v", err)
	}
	if n := ri.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

// TestRefreshFlood: many callers with made-up key IDs, for several
// MinRefreshIntervals, start at most 3 fetches in any window of
// MinRefreshInterval, and none of them is accepted.
func TestRefreshFlood(t *testing.T) {
	ri := newRawIssuer(t)
	ri.fetches = make(chan time.Time, 1000)
	const window = 200 * time.Millisecond
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = window })
	<-ri.fetches // the fetch at start is not a token's
	deadline := time.Now().Add(5 * window)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, calls := 0, 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && i < 100000; i++ {
				tok := signRaw("ES256", []byte(sprintf(`{"alg":"ES256","kid":"flood-%d-%d"}`, w, i)), mustJSON(ri.claims()))
				_, err := v.Validate(context.Background(), tok)
				mu.Lock()
				calls++
				if err == nil {
					accepted++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(ri.fetches)
	var times []time.Time
	for at := range ri.fetches {
		times = append(times, at)
	}
	t.Logf("%d validations over %v started %d fetches", calls, 5*window, len(times))
	if accepted != 0 {
		t.Fatalf("%d made-up kids accepted", accepted)
	}
	if len(times) == 0 {
		t.Fatal("the flood started no fetch at all: the test did not exercise the limit")
	}
	// Any refreshBurst+1 consecutive fetches span at least one window. The
	// server sees a request slightly after the client started it, so allow
	// a little skew.
	for i := refreshBurst; i < len(times); i++ {
		if span := times[i].Sub(times[i-refreshBurst]); span < window-20*time.Millisecond {
			t.Errorf("fetches %d..%d within %v, want at most %d per %v", i-refreshBurst, i, span, refreshBurst, window)
		}
	}
}

// TestLimitedWhileIssuerFails: when the limit refuses a refresh and the last
// fetch failed, an unknown key ID is ErrUnavailable (the key may exist); when
// the last fetch succeeded, it is invalid_token.
func TestLimitedWhileIssuerFails(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = time.Hour })
	unknown := func(i int) string {
		return signRaw("ES256", []byte(sprintf(`{"alg":"ES256","kid":"new-%d"}`, i)), mustJSON(ri.claims()))
	}
	for i := range refreshBurst {
		_, err := v.Validate(context.Background(), unknown(i))
		checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})
	}
	_, err := v.Validate(context.Background(), unknown(99))
	checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})

	ri2 := newRawIssuer(t)
	v2 := ri2.validator(t, func(c *Config) { c.MinRefreshInterval = time.Hour })
	ri2.status.Store(http.StatusBadGateway)
	for i := range refreshBurst {
		if _, err := v2.Validate(context.Background(), unknown(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("issuer down, fetch %d: %v, want ErrUnavailable", i, err)
		}
	}
	if _, err := v2.Validate(context.Background(), unknown(99)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("limited while the issuer is down: %v, want ErrUnavailable", err)
	}
	// Known keys still verify throughout.
	if _, err := v2.Validate(context.Background(), mint("RS256", ri2.claims())); err != nil {
		t.Fatal(err)
	}
}

// keyCreatedDuringFirstFetch starts a validator whose first JWKS fetch is
// answered from a snapshot 300 ms after it arrives, and, once that fetch is
// under way, publishes the key the tokens of the test are signed with.
func keyCreatedDuringFirstFetch(t *testing.T) (*rawIssuer, *Validator) {
	t.Helper()
	ri := newRawIssuer(t)
	k := sharedTestKeys()
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaJWK("id-token-key", &k.rsa.PublicKey, nil)}}))
	ri.snapshot.Store(true)
	ri.delay.Store(int64(300 * time.Millisecond))
	cfg := ri.config()
	cfg.MinRefreshInterval = time.Hour
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	eventually(t, "the first fetch to start", func() bool { return ri.hits.Load() == 1 })
	// The issuer creates its access token key now.
	ri.setJWKS(defaultJWKS())
	return ri, v
}
