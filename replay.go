package accesstoken

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// memoryReplay is the default ReplayCache: a map of keys to their expiry and
// a min-heap on expiry, so that each call drops what has expired in
// O(log n). It never forgets an unexpired key to make room: when full, it
// fails, and the request is refused as ErrUnavailable rather than risk
// accepting a replay.
type memoryReplay struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	expires map[string]int64 // key -> expiry, Unix nanoseconds
	queue   expiryHeap
}

var errReplayFull = errors.New("the in-memory DPoP replay cache is full of unexpired proofs")

func newMemoryReplay(max int, now func() time.Time) *memoryReplay {
	return &memoryReplay{max: max, now: now, expires: map[string]int64{}}
}

// Remember implements ReplayCache.
func (c *memoryReplay) Remember(_ context.Context, key string, expires time.Time) (bool, error) {
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && c.queue[0].expires <= now {
		old := heap.Pop(&c.queue).(expiryEntry)
		if c.expires[old.key] == old.expires {
			delete(c.expires, old.key)
		}
	}
	if exp, ok := c.expires[key]; ok && exp > now {
		return false, nil
	}
	if len(c.expires) >= c.max {
		return false, errReplayFull
	}
	e := expiryEntry{key: key, expires: expires.UnixNano()}
	c.expires[key] = e.expires
	heap.Push(&c.queue, e)
	return true, nil
}

func (c *memoryReplay) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expires)
}

type expiryEntry struct {
	key     string
	expires int64
}

// expiryHeap orders entries by expiry, soonest first (container/heap).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
