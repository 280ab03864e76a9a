package accesstoken

import (
	"hash/maphash"
	"sync"
)

// verifiedCache remembers JWTs that passed every check, so that a token seen
// again skips parsing and the signature check (compare Envoy's
// jwt_cache_config). Its rules:
//
//   - a hit needs the whole token to be equal; the hash only finds the slot;
//   - exp, nbf and iat are checked against the clock on every hit;
//   - an entry is used only while the key that verified it is still in the
//     key set, and never after the token's exp;
//   - the size is bounded; when full, an arbitrary entry makes room.
type verifiedCache struct {
	seed maphash.Seed
	max  int

	mu      sync.RWMutex
	entries map[uint64]*verifiedEntry
}

type verifiedEntry struct {
	token  string
	claims *parsedClaims
	key    *verificationKey
	set    *keySet // the key set key came from
}

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{seed: maphash.MakeSeed(), max: size, entries: make(map[uint64]*verifiedEntry)}
}

// lookup returns the entry for token, or nil.
func (c *verifiedCache) lookup(token string) (uint64, *verifiedEntry) {
	h := maphash.String(c.seed, token)
	c.mu.RLock()
	e := c.entries[h]
	c.mu.RUnlock()
	if e == nil || e.token != token {
		return h, nil
	}
	return h, e
}

func (c *verifiedCache) store(h uint64, e *verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[h]; !ok && len(c.entries) >= c.max {
		for victim := range c.entries {
			delete(c.entries, victim)
			break
		}
	}
	c.entries[h] = e
}

func (c *verifiedCache) remove(h uint64, e *verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[h] == e {
		delete(c.entries, h)
	}
}

// stillTrusted reports whether the key that verified e is in set.
func (e *verifiedEntry) stillTrusted(set *keySet) bool {
	if set == e.set {
		return true
	}
	type equaler interface{ Equal(x any) bool }
	for _, k := range set.byKID[e.key.kid] {
		if pub, ok := k.public.(equaler); ok && k.alg == e.key.alg && pub.Equal(e.key.public) {
			return true
		}
	}
	return false
}
