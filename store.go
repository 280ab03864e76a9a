package accesstoken

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// A Store holds state that the replicas of an API share: DPoP proofs seen
// ([NewReplayCache]) and revoked tokens ([NewRevocations]). The in-memory one,
// [NewMemoryStore], serves a single process; the redisstore module shares one
// Redis (or Valkey) among replicas.
//
// Keys are built by this package from hashes and fixed prefixes and never
// contain a token. Implementations must be safe for concurrent use, keep a
// value no longer than expires (always set), and return when ctx is done,
// even when their server does not answer: every call this package makes is
// bounded by Config.StoreTimeout.
type Store interface {
	// Get returns the value under key; ok is false when there is none or it
	// has expired.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key until expires, replacing any value.
	Set(ctx context.Context, key string, value []byte, expires time.Time) error
	// SetIfAbsent stores value under key until expires only when the key
	// holds no unexpired value, atomically, and reports whether it did.
	SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error)
}

const (
	defaultStoreTimeout = 500 * time.Millisecond
	memoryStoreMax      = 1 << 20
)

// errStoreFull is what the in-memory store answers when it holds
// memoryStoreMax unexpired values: it never drops one to make room, since
// the values it holds are security state (a replayed proof, a revocation).
var errStoreFull = errors.New("accesstoken: the in-memory store is full of unexpired values")

// NewMemoryStore returns a [Store] in this process's memory, for a single
// replica and for tests: at most 1,048,576 unexpired values, after which
// writes fail rather than forget anything. Expired values are dropped as
// writes come.
func NewMemoryStore() Store {
	return newMemoryStore(time.Now)
}

func newMemoryStore(now func() time.Time) *memoryStore {
	return &memoryStore{now: now, max: memoryStoreMax, values: map[string]memoryValue{}}
}

type memoryStore struct {
	now func() time.Time
	max int

	mu     sync.Mutex
	values map[string]memoryValue
	queue  expiryHeap // each Set pushes; stale entries are skipped on pop
}

type memoryValue struct {
	value   []byte
	expires int64 // Unix nanoseconds
}

func (s *memoryStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	if !ok || v.expires <= now {
		return nil, false, nil
	}
	return append([]byte(nil), v.value...), true, nil
}

func (s *memoryStore) Set(_ context.Context, key string, value []byte, expires time.Time) error {
	_, err := s.put(key, value, expires, false)
	return err
}

func (s *memoryStore) SetIfAbsent(_ context.Context, key string, value []byte, expires time.Time) (bool, error) {
	return s.put(key, value, expires, true)
}

func (s *memoryStore) put(key string, value []byte, expires time.Time, ifAbsent bool) (bool, error) {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && s.queue[0].expires <= now {
		old := heap.Pop(&s.queue).(expiryEntry)
		if v, ok := s.values[old.key]; ok && v.expires == old.expires {
			delete(s.values, old.key)
		}
	}
	old, exists := s.values[key]
	exists = exists && old.expires > now
	switch {
	case ifAbsent && exists:
		return false, nil
	case !exists && len(s.values) >= s.max:
		return false, errStoreFull
	}
	e := expiryEntry{key: key, expires: expires.UnixNano()}
	if e.expires <= now {
		delete(s.values, key)
		return true, nil
	}
	s.values[key] = memoryValue{value: append([]byte(nil), value...), expires: e.expires}
	heap.Push(&s.queue, e)
	return true, nil
}

// storeKey is prefix followed by the base64url SHA-256 of the parts, joined
// by NUL bytes: fixed length, no token or identifier in clear.
func storeKey(prefix string, parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return prefix + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// storeReplay is a ReplayCache over a Store.
type storeReplay struct{ store Store }

// NewReplayCache returns a DPoP [ReplayCache] kept in s, for
// DPoPConfig.Replay: with a Store that replicas share, a proof accepted by
// one replica is refused by every other. Each proof costs one SetIfAbsent,
// bounded by Config.StoreTimeout; when s cannot answer, the request is
// refused with [ErrUnavailable] (the check fails closed).
func NewReplayCache(s Store) ReplayCache {
	return storeReplay{store: s}
}

// replayValue is what a remembered proof stores: its presence is the record.
var replayValue = []byte{'1'}

func (r storeReplay) Remember(ctx context.Context, key string, expires time.Time) (bool, error) {
	return r.store.SetIfAbsent(ctx, key, replayValue, expires)
}

func (s *memoryStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}
