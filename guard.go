package accesstoken

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Guard returns a context derived from ctx that is also done when the
// token whose claims are c ends: when its "exp" passes (plus the
// validator's Config.Leeway), or when the validator's Config.Revocations
// revokes it by "jti", by subject or by session, on any replica. Use it for
// what lives longer than the check at its start: a streaming RPC, server-
// sent events, a long poll, a WebSocket. Pass the context of that request
// or stream: the guard lives as long as it does.
//
// When the token ended it, context.Cause of the returned context is an
// [*Error] matching [ErrInvalidToken] ("The access token expired", which
// also matches [ErrTokenExpired], or "The access token was revoked");
// ctx.Err() is then context.Canceled. When ctx ended first, the cause is
// ctx's.
//
// v is the validator that returned c. A [*Validator] or [*MultiIssuer]
// brings its issuer's leeway and revocation list; a [TokenValidator] of
// your own, expiry only. Expiry is measured in real time from the call:
// the guard fires ExpiresAt − Config.Now() (+ leeway) later. A revocation
// reaches open guards within about a second (the list's own bound): one
// watcher per [Revocations], while it has guards, reads the list's version
// twice a second and, when it changes, reads the records of the guarded
// tokens once each. A list that cannot be read leaves open guards open
// (new validations still fail closed). A guard never asks an introspection
// endpoint again: a token revoked only at the authorization server ends at
// its expiry, or when something calls [Revocations.RevokeToken] (the
// shared signals receiver does).
//
// Guard starts no goroutine per guard when ctx is a standard-library
// context: one timer at most, and an entry in the list's watcher. A token
// without "exp" under a validator without a list can end only with ctx,
// which Guard then returns. A nil c gives a context that is already done.
func Guard(ctx context.Context, v TokenValidator, c *Claims) context.Context {
	if c == nil {
		gctx, cancel := context.WithCancelCause(ctx)
		cancel(newError(ErrInvalidToken, descInvalid, fmt.Errorf("accesstoken: Guard without claims")))
		return gctx
	}
	p := guardParamsOf(v, c)
	watch := p.revocations != nil && (c.ID != "" || c.Subject != "" || c.SessionID != "")
	if c.ExpiresAt.IsZero() && !watch {
		return ctx // nothing ends this token but ctx
	}
	gctx, cancel := context.WithCancelCause(ctx)
	var timer *time.Timer
	if !c.ExpiresAt.IsZero() {
		d := c.ExpiresAt.Add(p.leeway).Sub(p.now())
		if d <= 0 {
			cancel(expiredDuringUse(c))
			return gctx
		}
		timer = time.AfterFunc(d, func() { cancel(expiredDuringUse(c)) })
	}
	var entry *guardEntry
	if watch {
		entry = &guardEntry{ids: [revocationKinds]string{c.ID, c.Subject, c.SessionID}, iat: c.IssuedAt, cancel: cancel}
		p.revocations.guards.add(p.revocations, entry, p.timeout)
	}
	context.AfterFunc(gctx, func() {
		if timer != nil {
			timer.Stop()
		}
		if entry != nil {
			p.revocations.guards.remove(entry)
		}
		cancel(nil) // done already: releases nothing but keeps vet sure
	})
	return gctx
}

func expiredDuringUse(c *Claims) *Error {
	e := newError(ErrInvalidToken, descExpired, fmt.Errorf("expired at %s", c.ExpiresAt.Format(time.RFC3339)))
	e.expired = true
	return e
}

// guardParams is what a guard needs of the validator that returned its
// claims.
type guardParams struct {
	leeway      time.Duration
	now         func() time.Time
	revocations *Revocations
	timeout     time.Duration // of the store reads
}

// guardSource is a validator that can say how its tokens end.
type guardSource interface {
	guardParams(c *Claims) guardParams
}

func guardParamsOf(v TokenValidator, c *Claims) guardParams {
	if s, ok := v.(guardSource); ok {
		return s.guardParams(c)
	}
	return guardParams{now: time.Now}
}

func (v *Validator) guardParams(*Claims) guardParams {
	return guardParams{leeway: v.leeway, now: v.now, revocations: v.revocations, timeout: v.storeTimeout}
}

// guardParams are those of the claims' issuer; expiry only when it is no
// longer resolved.
func (m *MultiIssuer) guardParams(c *Claims) guardParams {
	if v := m.listed[c.Issuer]; v != nil {
		return v.guardParams(c)
	}
	m.mu.RLock()
	r := m.resolved[c.Issuer]
	m.mu.RUnlock()
	if r != nil {
		return r.v.guardParams(c)
	}
	return guardParams{now: time.Now}
}

// guardPoll is how often a list with open guards reads its version.
const guardPoll = versionPoll

// guardSet is a list's open guards, and whether its watcher runs.
type guardSet struct {
	mu      sync.Mutex
	entries map[*guardEntry]struct{}
	running bool
	timeout time.Duration
}

// guardEntry is one open guard: the token's jti, subject and session, its
// "iat" (for subject revocations) and how to end it.
type guardEntry struct {
	ids     [revocationKinds]string
	iat     time.Time
	cancel  context.CancelCauseFunc
	checked bool // read against the list since the version last changed; under guardSet.mu
}

func (g *guardSet) add(r *Revocations, e *guardEntry, timeout time.Duration) {
	g.mu.Lock()
	if g.entries == nil {
		g.entries = map[*guardEntry]struct{}{}
	}
	g.entries[e] = struct{}{}
	g.timeout = timeout
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go r.watchGuards()
	}
}

func (g *guardSet) remove(e *guardEntry) {
	g.mu.Lock()
	delete(g.entries, e)
	g.mu.Unlock()
}

// watchGuards is the list's one watcher while it has open guards: twice a
// second it reads the list's version; when it changed, every guard is read
// again, and a new guard is read once (a revocation between its token's
// validation and the guard must not be missed). It ends when no guard is
// open.
func (r *Revocations) watchGuards() {
	tick := time.NewTicker(guardPoll)
	defer tick.Stop()
	var seen *string
	for {
		r.guards.mu.Lock()
		if len(r.guards.entries) == 0 {
			r.guards.running = false
			r.guards.mu.Unlock()
			return
		}
		timeout := r.guards.timeout
		r.guards.mu.Unlock()

		now := r.now().UnixNano()
		ctx, end := r.startRead(context.Background())
		ctx, cancel := context.WithTimeout(ctx, timeout)
		value, _, err := r.store.Get(ctx, revocationsVersion)
		cancel()
		end(err)
		if err == nil { // unreadable: open guards stay open
			v := string(value)
			r.noteVersion(v, now)
			changed := seen == nil || *seen != v
			if r.recheckGuards(now, timeout, changed) || !changed {
				seen = &v
			}
		}
		<-tick.C
	}
}

// guardReaders bounds the store reads a recheck makes at once: with many
// guards of distinct tokens, reading them one after another would take
// longer than the list's bound.
const guardReaders = 16

// recheckGuard reads e's records and ends its guard when one revokes it. It
// reports whether every record could be read.
func (r *Revocations) recheckGuard(e *guardEntry, now int64, timeout time.Duration) bool {
	revoked, read := false, true
	for kind, id := range e.ids {
		if id == "" {
			continue
		}
		// Answers are shared: guards of one subject read it once.
		a, err := r.answer(context.Background(), kind, id, now, timeout)
		if err != nil {
			read = false
			continue
		}
		if a.revokes(kind, e.iat) {
			revoked = true
			break
		}
	}
	switch {
	case revoked:
		r.guards.remove(e)
		e.cancel(newError(ErrInvalidToken, descRevoked, errRevoked))
		return true
	case read:
		r.guards.mu.Lock()
		e.checked = true
		r.guards.mu.Unlock()
		return true
	}
	return false
}

// recheckGuards reads the records of the guards not checked since the
// version changed (all of them when changed) and ends the revoked ones. It
// reports whether every record could be read.
func (r *Revocations) recheckGuards(now int64, timeout time.Duration, changed bool) bool {
	r.guards.mu.Lock()
	var todo []*guardEntry
	for e := range r.guards.entries {
		if changed {
			e.checked = false
		}
		if !e.checked {
			todo = append(todo, e)
		}
	}
	r.guards.mu.Unlock()
	var incomplete atomic.Bool
	work := make(chan *guardEntry)
	var wg sync.WaitGroup
	for range min(guardReaders, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				if !r.recheckGuard(e, now, timeout) {
					incomplete.Store(true)
				}
			}
		}()
	}
	for _, e := range todo {
		work <- e
	}
	close(work)
	wg.Wait()
	complete := !incomplete.Load()
	return complete
}
