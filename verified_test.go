package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	ri := newRawIssuer(t)
	clk := newClock()
	v := ri.validator(t, func(c *Config) { c.Now = clk.now; c.VerifiedCacheSize = 10 })
	ctx := context.Background()
	claims := ri.claims()
	claims["exp"] = clk.now().Add(time.Minute).Unix()
	claims["iat"] = clk.now().Unix()
	tok := mint("ES256", claims)

	first, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if v.verified.lookup(tok) == nil {
		t.Fatal("a verified token was not cached")
	}
	first.Subject = "changed by a caller"
	second, err := v.Validate(ctx, tok)
	if err != nil || second.Subject != "alice" {
		t.Fatalf("cached claims: %+v, %v (a caller's change must not leak)", second, err)
	}

	// exp is checked against the clock on every hit.
	clk.add(2 * time.Minute)
	if _, err := v.Validate(ctx, tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired cached token: %v", err)
	}
	if v.verified.lookup(tok) != nil {
		t.Fatal("expired entry kept")
	}

	// Rejected tokens are never cached.
	bad := tok[:len(tok)-6] + "AAAAAA"
	v.Validate(ctx, bad)
	if v.verified.lookup(bad) != nil {
		t.Fatal("a rejected token was cached")
	}

	// Bounded.
	for i := range 50 {
		c := ri.claims()
		c["exp"] = clk.now().Add(time.Hour).Unix()
		c["iat"] = clk.now().Unix()
		c["jti"] = fmt.Sprint(i)
		if _, err := v.Validate(ctx, mint("EdDSA", c)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.verified.len(); n > 10 {
		t.Fatalf("%d entries, bound 10", n)
	}
}

// TestVerifiedCacheWholeToken: only the very same token hits, and the bound
// holds under concurrent stores.
func TestVerifiedCacheWholeToken(t *testing.T) {
	c := newVerifiedCache(4)
	e := &verifiedEntry{}
	c.store("token-a", e)
	for _, other := range []string{"token-b", "token-a ", "token-", "TOKEN-A"} {
		if c.lookup(other) != nil {
			t.Fatalf("%q hit the entry of token-a", other)
		}
	}
	if c.lookup("token-a") != e {
		t.Fatal("miss on the same token")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				c.store(fmt.Sprintf("t-%d-%d", i, j), &verifiedEntry{})
			}
		}()
	}
	wg.Wait()
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	if n > 4 || c.len() != n {
		t.Fatalf("%d entries (counter %d), bound 4", n, c.len())
	}
}

// TestVerifiedCacheFollowsKeys: an entry lives only as long as its key.
func TestVerifiedCacheFollowsKeys(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) { c.MinRefreshInterval = time.Millisecond })
	ctx := context.Background()
	tok := mint("RS256", ri.claims())
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A refresh with the same keys (a new key set) keeps the entry usable.
	time.Sleep(2 * time.Millisecond)
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatalf("same key after refresh: %v", err)
	}
	// The issuer withdraws the key: the cached token goes with it.
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{ecJWK("p256", &sharedTestKeys().p256.PublicKey, nil)}}))
	time.Sleep(2 * time.Millisecond)
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := v.Validate(ctx, tok)
	checkResult(t, nil, err, result{ErrInvalidToken, descUnknownKey})
	// The same kid with another key is not the same key either.
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{rsaJWK("rsa", &sharedAttackerKey().PublicKey, nil)}}))
	time.Sleep(2 * time.Millisecond)
	v.Refresh(ctx)
	if _, err := v.Validate(ctx, tok); err == nil {
		t.Fatal("cached token accepted under a different key with the same kid")
	}
}

func TestVerifiedCacheOff(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) { c.VerifiedCacheSize = -1 })
	if v.verified != nil {
		t.Fatal("cache on")
	}
	if _, err := v.Validate(context.Background(), mint("RS256", ri.claims())); err != nil {
		t.Fatal(err)
	}
}
