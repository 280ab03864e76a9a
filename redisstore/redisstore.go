// Package redisstore keeps the state that replicas of an API share in Redis
// or Valkey: an accesstoken.Store over go-redis, for
// accesstoken.NewReplayCache (DPoP proofs seen by any replica) and
// accesstoken.NewRevocations (tokens revoked on every replica).
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"redis:6379"},
//		ContextTimeoutEnabled: true,
//	})
//	store := redisstore.New(rdb, "orders-api:")
//	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
//		...
//		DPoP:        &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store), NonceSecret: secret},
//		Revocations: accesstoken.NewRevocations(store),
//	})
//
// A redis.UniversalClient is a single node, Sentinel (a failover client) or
// a Cluster alike: every operation is on one key.
package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
)

// Store is an accesstoken.Store in Redis. Its methods are safe for
// concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	// wait is true unless the client is known to bound its reads by the
	// context itself (ContextTimeoutEnabled).
	wait bool
}

var _ accesstoken.Store = (*Store)(nil)

// New returns a Store whose keys all start with prefix, so that several
// APIs, or several issuers' revocation lists, can share one Redis without
// meeting ("orders-api:", "orders-api:issuer-b:").
//
// Every call returns when its context is done, even when Redis has stopped
// answering. go-redis bounds a command by its context only with
// ContextTimeoutEnabled; without it, the call returns at the deadline all
// the same, and the abandoned command ends at the client's ReadTimeout. Set
// ContextTimeoutEnabled (and keep ReadTimeout positive) so that nothing is
// left waiting.
func New(client redis.UniversalClient, prefix string) *Store {
	s := &Store{client: client, prefix: prefix, wait: true}
	switch c := client.(type) {
	case *redis.Client:
		s.wait = !c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		s.wait = !c.Options().ContextTimeoutEnabled
	}
	return s
}

// Get implements accesstoken.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	value, err := call(s, ctx, func(ctx context.Context) ([]byte, error) {
		b, err := s.client.Get(ctx, s.prefix+key).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err == nil && b == nil {
			b = []byte{} // found and empty, not absent
		}
		return b, err
	})
	if err != nil || value == nil {
		return nil, false, err
	}
	return value, true, nil
}

// Set implements accesstoken.Store. A value that has already expired
// replaces the one under key as the Store contract says, by leaving none: the
// key is deleted.
func (s *Store) Set(ctx context.Context, key string, value []byte, expires time.Time) error {
	ttl := ttlUntil(expires)
	_, err := call(s, ctx, func(ctx context.Context) (struct{}, error) {
		if ttl <= 0 {
			return struct{}{}, s.client.Del(ctx, s.prefix+key).Err()
		}
		return struct{}{}, s.client.Set(ctx, s.prefix+key, value, ttl).Err()
	})
	return err
}

// SetIfAbsent implements accesstoken.Store with SET NX PX, atomic on the
// server. A value that has already expired is not written, and reported as
// stored: it is as absent as it would have been.
func (s *Store) SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error) {
	ttl := ttlUntil(expires)
	if ttl <= 0 {
		return true, nil
	}
	return call(s, ctx, func(ctx context.Context) (bool, error) {
		return s.client.SetNX(ctx, s.prefix+key, value, ttl).Result()
	})
}

// ttlUntil is the time left until expires, rounded up to the millisecond
// that PX counts in.
func ttlUntil(expires time.Time) time.Duration {
	d := time.Until(expires)
	if d <= 0 {
		return 0
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// call runs op and returns by ctx's deadline whatever Redis does. An
// abandoned op keeps its result to itself: nothing it writes is shared.
func call[T any](s *Store, ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if !s.wait {
		return op(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := op(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
