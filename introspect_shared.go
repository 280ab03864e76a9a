package accesstoken

import (
	"bytes"
	"context"
	"sync/atomic"
	"time"
)

// The shared introspection cache (IntrospectionConfig.Store). Values are
// what the endpoint answered, so that each replica judges them by its own
// rules and clock, and a value written by one version of this package is
// read by the next (rolling upgrades):
//
//	0x01 'A' <the answer's JSON object>   an answer, active or not
//	0x01 'F'                              the replica that asked failed
//
// A replica that finds no answer takes a lease (SetIfAbsent) before asking
// the endpoint; the others poll for the answer while the lease lasts, so
// concurrent first sights across replicas cost about one upstream call.
const (
	sharedAnswerPrefix = "introspection:"
	sharedLeasePrefix  = "introspection-lease:"
	sharedFormat       = 0x01

	// sharedRetryAfter is how long the shared store is left alone after it
	// failed: meanwhile introspection goes straight to the endpoint, so a
	// slow store delays one request per period, not every new token.
	sharedRetryAfter = 5 * time.Second
	// sharedLeaseMax bounds how long replicas wait for the one asking
	// (less when FetchTimeout is shorter), should it die or hang.
	sharedLeaseMax  = 2 * time.Second
	sharedPollFirst = 2 * time.Millisecond
	sharedPollMax   = 50 * time.Millisecond
)

var (
	sharedFailed = []byte{sharedFormat, 'F'}
	sharedLease  = []byte{sharedFormat, 'L'}
)

// sharedCache is the part of the introspector that talks to the Store.
type sharedCache struct {
	store    Store
	timeout  time.Duration // Config.StoreTimeout
	observer Observer
	issuer   string
	skipTo   atomic.Int64 // Unix ns until which the store is not asked, after a failure
}

// sharedState is what a replica finds in the store for a token.
type sharedState int

const (
	sharedNone sharedState = iota
	sharedAnswer
	sharedGaveUp // the leaseholder failed to ask: ask yourself
)

func (s *sharedCache) usable(now time.Time) bool {
	return s != nil && now.UnixNano() >= s.skipTo.Load()
}

// failed records a store failure: the next sharedRetryAfter skip the store.
func (s *sharedCache) failed(now time.Time) {
	s.skipTo.Store(now.Add(sharedRetryAfter).UnixNano())
}

func (s *sharedCache) get(ctx context.Context, key string) ([]byte, sharedState, error) {
	ctx, end := startCall(ctx, s.observer, Call{Kind: callStore, Issuer: s.issuer, Operation: "get", Purpose: "introspection"})
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	value, ok, err := s.store.Get(ctx, key)
	end(err)
	switch {
	case err != nil:
		return nil, sharedNone, err
	case !ok:
		return nil, sharedNone, nil
	case bytes.Equal(value, sharedFailed):
		return nil, sharedGaveUp, nil
	case len(value) > 2 && value[0] == sharedFormat && value[1] == 'A':
		return value[2:], sharedAnswer, nil
	}
	// A value this version cannot read (a newer format, or garbage) is as
	// good as none: the replica asks and overwrites it.
	return nil, sharedNone, nil
}

func (s *sharedCache) set(ctx context.Context, key string, value []byte, expires time.Time, ifAbsent bool) (bool, error) {
	op := "set"
	if ifAbsent {
		op = "set_if_absent"
	}
	ctx, end := startCall(ctx, s.observer, Call{Kind: callStore, Issuer: s.issuer, Operation: op, Purpose: "introspection"})
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var err error
	done := true
	if ifAbsent {
		done, err = s.store.SetIfAbsent(ctx, key, value, expires)
	} else {
		err = s.store.Set(ctx, key, value, expires)
	}
	end(err)
	return done, err
}

// answerShared is introspect's upstream step with a shared store: the
// answer another replica stored, or the one this replica asks for, under a
// lease. Any store failure falls back to asking the endpoint: the store is an
// optimisation, never a point of failure. publish, when not nil, stores the
// outcome for the other replicas; run calls it after its own callers have
// their answer.
func (in *introspector) answerShared(ctx context.Context, token string, v *Validator) (c *Claims, e *Error, publish func()) {
	s := in.shared
	start := v.now()
	if !s.usable(start) {
		c, e = in.request(ctx, token, v)
		return c, e, nil
	}
	h := storeKey("", in.issuer, in.cfg.ClientID, token)
	answerKey, leaseKey := sharedAnswerPrefix+h, sharedLeasePrefix+h

	leased := false
	leaseEnd := start.Add(min(in.keys.timeout, sharedLeaseMax))
	raw, state, err := s.get(ctx, answerKey)
	switch {
	case err != nil:
	case state == sharedAnswer:
		if c, e, ok := in.judgeShared(raw, v); ok {
			return c, e, nil
		}
	case state == sharedNone:
		leased, err = s.set(ctx, leaseKey, sharedLease, leaseEnd, true)
		if err == nil && !leased {
			// Another replica is asking: wait for its answer while its
			// lease lasts, then ask ourselves.
			if raw, ok := in.awaitShared(ctx, answerKey, leaseEnd, v); ok {
				if c, e, ok := in.judgeShared(raw, v); ok {
					return c, e, nil
				}
			}
		}
	}
	if err != nil {
		s.failed(start)
		c, e = in.request(ctx, token, v)
		return c, e, nil
	}
	raw, e = in.fetch(ctx, token, v)
	if e != nil {
		if !leased {
			return nil, e, nil
		}
		// Tell the replicas waiting on our lease to ask for themselves.
		return nil, e, func() { in.publish(answerKey, sharedFailed, leaseEnd, v) }
	}
	c, e = in.judge(raw, v)
	expires, ok := in.expiry(c, e, v.now())
	if !ok {
		return c, e, nil
	}
	value := append([]byte{sharedFormat, 'A'}, raw...)
	return c, e, func() { in.publish(answerKey, value, expires, v) }
}

// awaitShared polls for the answer of the replica holding the lease, until
// the lease ends, the holder gives up, ctx ends or the store fails.
func (in *introspector) awaitShared(ctx context.Context, key string, leaseEnd time.Time, v *Validator) ([]byte, bool) {
	wait := sharedPollFirst
	for {
		d := leaseEnd.Sub(v.now())
		if d <= 0 {
			return nil, false
		}
		t := time.NewTimer(min(wait, d))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case <-t.C:
		}
		wait = min(2*wait, sharedPollMax)
		raw, state, err := in.shared.get(ctx, key)
		switch {
		case err != nil:
			in.shared.failed(v.now())
			return nil, false
		case state == sharedAnswer:
			return raw, true
		case state == sharedGaveUp:
			return nil, false
		}
	}
}

// judgeShared judges an answer read from the store. ok is false when the
// value cannot be read as an answer (the store is shared, so its content
// is not trusted to be well formed): the caller then asks the endpoint.
func (in *introspector) judgeShared(raw []byte, v *Validator) (*Claims, *Error, bool) {
	c, e := in.judge(raw, v)
	switch {
	case e != nil && e.kind == ErrUnavailable:
		return nil, nil, false
	case e != nil:
		e.via = viaShared
	default:
		c.via = viaShared
	}
	return c, e, true
}

// publish stores a value for the other replicas, bounded by StoreTimeout
// and detached from every request.
func (in *introspector) publish(key string, value []byte, expires time.Time, v *Validator) {
	if _, err := in.shared.set(in.keys.ctx, key, value, expires, false); err != nil {
		in.shared.failed(v.now())
		in.keys.logger.Warn("accesstoken: the shared introspection cache could not be written", "issuer", in.issuer, "error", err)
	}
}
