package accesstoken

import (
	"sync"
	"sync/atomic"
)

// verifiedCache remembers JWTs that passed every check, so that a token seen
// again skips parsing and the signature check (compare Envoy's
// jwt_cache_config). Its rules:
//
//   - the map is keyed by the whole token, so a hit means equal tokens, never
//     a hash match alone;
//   - exp, nbf and iat are checked against the clock on every hit;
//   - an entry is used only while the key that verified it is still in the
//     key set, and never after the token's exp;
//   - the size is bounded; when full, an arbitrary entry makes room.
//
// Reads take no lock (sync.Map), so hits scale across cores even when every
// request carries the same token.
type verifiedCache struct {
	max     int64
	size    atomic.Int64
	entries sync.Map // token string -> *verifiedEntry
}

type verifiedEntry struct {
	claims *parsedClaims
	key    *verificationKey
	set    *keySet    // the key set key came from
	owner  *Validator // the validator that verified the token; a MultiIssuer's issuers share one cache
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{max: int64(size)}
}

// lookup returns the entry for token, or nil.
func (c *verifiedCache) lookup(token string) *verifiedEntry {
	e, _ := c.entries.Load(token)
	entry, _ := e.(*verifiedEntry)
	return entry
}

func (c *verifiedCache) store(token string, e *verifiedEntry) {
	if _, loaded := c.entries.Swap(token, e); loaded {
		return
	}
	if c.size.Add(1) <= c.max {
		return
	}
	// Over the bound: evict whatever Range yields first, other than token.
	c.entries.Range(func(k, _ any) bool {
		if k.(string) == token {
			return true
		}
		if _, deleted := c.entries.LoadAndDelete(k); deleted {
			c.size.Add(-1)
			return false
		}
		return true // another store took this one: evict the next
	})
}

func (c *verifiedCache) remove(token string, e *verifiedEntry) {
	if c.entries.CompareAndDelete(token, e) {
		c.size.Add(-1)
	}
}

// len is the number of cached tokens.
func (c *verifiedCache) len() int { return int(c.size.Load()) }

// stillTrusted reports whether the key that verified e is in set.
func (e *verifiedEntry) stillTrusted(set *keySet) bool {
	if set == e.set {
		return true
	}
	for _, k := range set.byKID[e.key.kid] {
		if k.alg == e.key.alg && samePublicKey(k.public, e.key.public) {
			return true
		}
	}
	return false
}
