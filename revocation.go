package accesstoken

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Revocations is a list of revoked access tokens kept in a [Store], so that
// every replica that shares the store refuses them: JWTs, which are
// otherwise valid until they expire, and introspected tokens alike. Name one
// in Config.Revocations; create it with [NewRevocations].
//
// A list belongs to one issuer, because "jti" and "sub" are unique only
// per issuer: give each issuer of a [MultiIssuer] its own list, over stores
// whose keys do not meet (for example redisstore.New with a prefix per
// issuer). NewMultiIssuer refuses one list named by two issuers.
//
// A revocation is seen by every replica within a second. Each replica
// checks a token against the store once, and then trusts its answer while
// the list has not changed: every revocation also changes a version value,
// which a replica reads at most twice a second, and only while it
// validates tokens. When the version cannot be read for a second, answers
// are no longer trusted and every validation reads the store. When the
// store cannot be read, the token is refused with [ErrUnavailable], unless
// Config.RevocationFailOpen.
//
// A Revocations is safe for concurrent use. An administrative program that
// only revokes can create one over the same store without a Validator.
type Revocations struct {
	store Store
	now   func() time.Time

	// owner is the issuer of the first Config that named the list.
	ownerMu  sync.Mutex
	owner    string
	observer Observer // of the first Config that named the list

	// epoch counts the list versions this replica has seen change; cached
	// answers of an older epoch are stale.
	epoch     atomic.Uint64
	version   atomic.Pointer[string] // last version read; nil before the first read
	polling   atomic.Bool
	pollStart atomic.Int64 // when the last version read started, Unix ns
	pollOK    atomic.Int64 // when the last successful version read started, Unix ns

	// Cached answers and reads under way, by kind (jti, subject) and the
	// claim's value: no hashing on the hot path.
	mu      sync.RWMutex
	answers [revocationKinds]map[string]revocationAnswer
	flights [revocationKinds]map[string]*revocationFlight

	guards guardSet // open Guards on tokens this list may revoke
}

// The kinds of revocation record.
const (
	byJTI = iota
	bySubject
	bySession
	revocationKinds
)

var revocationPrefixes = [revocationKinds]string{revokedJTIPrefix, revokedSubjectPrefix, revokedSessionPrefix}

// revocationAnswer is what the store said of a jti or subject key.
type revocationAnswer struct {
	epoch  uint64
	read   int64 // when it was read, Unix ns
	found  bool
	before int64 // subject keys: tokens issued before this (Unix ns) are revoked
}

type revocationFlight struct {
	done   chan struct{}
	answer revocationAnswer
	err    error
}

const (
	revokedJTIPrefix     = "revoked-jti:"
	revokedSubjectPrefix = "revoked-sub:"
	revokedSessionPrefix = "revoked-sid:"
	revocationsVersion   = "revocations-version"

	// versionPoll is how often the version is read while tokens are
	// validated; versionTrust how long after a successful read cached
	// answers are trusted. versionTrust bounds how late a revocation is
	// seen.
	versionPoll  = 500 * time.Millisecond
	versionTrust = time.Second
	// answerMaxAge bounds the life of a cached answer even when the
	// version never changes.
	answerMaxAge = time.Minute
	// subjectRetention is how long RevokeSubject's record lasts: longer
	// than any access token issued before it should live.
	subjectRetention = 30 * 24 * time.Hour
	versionRetention = 400 * 24 * time.Hour
	maxCachedAnswers = 100000
)

// NewRevocations returns a revocation list kept in s.
func NewRevocations(s Store) *Revocations {
	if s == nil {
		panic("accesstoken: NewRevocations needs a Store")
	}
	return &Revocations{
		store:   s,
		now:     time.Now,
		answers: [revocationKinds]map[string]revocationAnswer{{}, {}, {}},
		flights: [revocationKinds]map[string]*revocationFlight{{}, {}, {}},
	}
}

// RevokeToken revokes the token whose "jti" is jti until the time given,
// which should be the token's "exp" (the record is dropped then). A token
// without "jti" cannot be revoked by it: use RevokeSubject.
func (r *Revocations) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errors.New("accesstoken: RevokeToken needs a jti")
	}
	if err := r.store.Set(ctx, storeKey(revokedJTIPrefix, jti), []byte{'1'}, until); err != nil {
		return fmt.Errorf("accesstoken: revoking a token: %w", err)
	}
	return r.bump(ctx)
}

// RevokeSubject revokes every token of the subject sub issued before
// issuedBefore, by its "iat"; a token without "iat" counts as issued before.
// Tokens issued later are accepted. The cut-off only moves forward: when
// the subject's record already names a later time, it is kept, so that an
// older event arriving late never admits tokens again. The record lasts 30
// days past its cut-off.
//
// Replicas revoking the same subject at once take turns through a lock
// record in the store (SetIfAbsent), held at most 10 seconds.
func (r *Revocations) RevokeSubject(ctx context.Context, sub string, issuedBefore time.Time) error {
	if sub == "" {
		return errors.New("accesstoken: RevokeSubject needs a subject")
	}
	key := storeKey(revokedSubjectPrefix, sub)
	unlock, err := r.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("accesstoken: revoking a subject: %w", err)
	}
	defer unlock()
	cutoff := issuedBefore.UnixNano()
	old, found, err := r.store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("accesstoken: revoking a subject: %w", err)
	}
	if found {
		if prev, err := strconv.ParseInt(string(old), 10, 64); err == nil && prev >= cutoff {
			return nil
		}
	}
	if err := r.store.Set(ctx, key, strconv.AppendInt(nil, cutoff, 10), issuedBefore.Add(subjectRetention)); err != nil {
		return fmt.Errorf("accesstoken: revoking a subject: %w", err)
	}
	return r.bump(ctx)
}

const (
	lockPrefix  = "lock:"
	lockHold    = 10 * time.Second
	lockRetry   = 20 * time.Millisecond
	lockWaitMax = lockHold + time.Second
)

var errLockWait = errors.New("the record stayed locked by another writer")

// lock takes the lock record of key, waiting while another writer holds it
// (at most a little longer than a lock can be held), and returns its
// release.
func (r *Revocations) lock(ctx context.Context, key string) (unlock func(), err error) {
	lockKey := lockPrefix + key
	token := []byte(rand.Text())
	deadline := time.Now().Add(lockWaitMax)
	for {
		ok, err := r.store.SetIfAbsent(ctx, lockKey, token, r.now().Add(lockHold))
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, errLockWait
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return func() {
		// A value that expires at once frees the lock; a store that keeps it
		// for its shortest term (a millisecond) does too, near enough.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultStoreTimeout)
		defer cancel()
		_ = r.store.Set(ctx, lockKey, token, r.now().Add(time.Millisecond))
	}, nil
}

// RevokeSession revokes every token whose "sid" is sid ([Claims.SessionID])
// until the time given, which should be when the last token of that
// session expires (the record is dropped then): the user signed out, or the
// identity provider ended the session. Open [Guard]s on those tokens end.
func (r *Revocations) RevokeSession(ctx context.Context, sid string, until time.Time) error {
	if sid == "" {
		return errors.New("accesstoken: RevokeSession needs a session ID")
	}
	if err := r.store.Set(ctx, storeKey(revokedSessionPrefix, sid), []byte{'1'}, until); err != nil {
		return fmt.Errorf("accesstoken: revoking a session: %w", err)
	}
	return r.bump(ctx)
}

// bump writes a new list version, which tells every replica to read the
// store again.
func (r *Revocations) bump(ctx context.Context) error {
	if err := r.store.Set(ctx, revocationsVersion, []byte(rand.Text()), r.now().Add(versionRetention)); err != nil {
		return fmt.Errorf("accesstoken: writing the revocation list's version: %w", err)
	}
	return nil
}

// bind makes issuer the list's owner, or fails when another issuer is. The
// first validator's Observer sees the list's store reads.
func (r *Revocations) bind(issuer string, o Observer) error {
	r.ownerMu.Lock()
	defer r.ownerMu.Unlock()
	if r.observer == nil {
		r.observer = o
	}
	switch r.owner {
	case "":
		r.owner = issuer
	case issuer:
	default:
		return fmt.Errorf("accesstoken: one Revocations list is named by the issuers %q and %q; give each issuer its own", r.owner, issuer)
	}
	return nil
}

var errRevoked = errors.New("token revoked")

// check refuses c when the list names it.
func (r *Revocations) check(ctx context.Context, c *Claims, timeout time.Duration, failOpen bool) *Error {
	now := r.now().UnixNano()
	r.poll(now, timeout)
	for kind, id := range [revocationKinds]string{c.ID, c.Subject, c.SessionID} {
		if id == "" {
			continue
		}
		a, err := r.answer(ctx, kind, id, now, timeout)
		if err != nil {
			if failOpen {
				continue
			}
			return newError(ErrUnavailable, "", fmt.Errorf("revocation list: %w", err))
		}
		if a.revokes(kind, c.IssuedAt) {
			return newError(ErrInvalidToken, descRevoked, errRevoked)
		}
	}
	return nil
}

// revokes reports whether the record a says a token of that kind, issued
// at iat, is revoked: a jti or session record always, a subject record when
// the token was issued before its time (or says not when).
func (a revocationAnswer) revokes(kind int, iat time.Time) bool {
	return a.found && (kind != bySubject || iat.IsZero() || iat.UnixNano() < a.before)
}

// answer is the store's answer for the record of id: cached while trusted,
// otherwise read, one read per record at a time.
func (r *Revocations) answer(ctx context.Context, kind int, id string, now int64, timeout time.Duration) (revocationAnswer, error) {
	epoch := r.epoch.Load()
	trusted := now-r.pollOK.Load() < int64(versionTrust)
	r.mu.RLock()
	a, ok := r.answers[kind][id]
	f := r.flights[kind][id]
	r.mu.RUnlock()
	if ok && trusted && a.epoch == epoch && now-a.read < int64(answerMaxAge) {
		return a, nil
	}
	if f == nil {
		r.mu.Lock()
		if f = r.flights[kind][id]; f == nil {
			f = &revocationFlight{done: make(chan struct{})}
			r.flights[kind][id] = f
			r.mu.Unlock()
			r.read(ctx, kind, id, f, epoch, timeout)
		} else {
			r.mu.Unlock()
		}
	}
	select {
	case <-f.done:
		return f.answer, f.err
	case <-ctx.Done():
		return revocationAnswer{}, ctx.Err()
	}
}

// read asks the store for the record of id on behalf of everyone waiting on
// f, and caches the answer under the epoch seen before the read began.
func (r *Revocations) read(caller context.Context, kind int, id string, f *revocationFlight, epoch uint64, timeout time.Duration) {
	// The read is bounded by the timeout, not by one caller's context:
	// others share it.
	ctx, end := r.startRead(context.WithoutCancel(caller))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	read := r.now().UnixNano()
	value, found, err := r.store.Get(ctx, storeKey(revocationPrefixes[kind], id))
	end(err)
	a := revocationAnswer{epoch: epoch, read: read, found: found}
	if err == nil && found && kind == bySubject {
		if a.before, err = strconv.ParseInt(string(value), 10, 64); err != nil {
			err = errors.New("a subject revocation that is not a time")
		}
	}
	f.answer, f.err = a, err
	r.mu.Lock()
	delete(r.flights[kind], id)
	if err == nil {
		answers := r.answers[kind]
		if len(answers) >= maxCachedAnswers {
			r.prune(answers, read)
		}
		if len(answers) < maxCachedAnswers {
			answers[id] = a
		}
	}
	r.mu.Unlock()
	close(f.done)
}

// prune drops stale answers; when none are, it drops them all (they only
// save store reads). r.mu is held.
func (r *Revocations) prune(answers map[string]revocationAnswer, now int64) {
	epoch := r.epoch.Load()
	for k, a := range answers {
		if a.epoch != epoch || now-a.read >= int64(answerMaxAge) {
			delete(answers, k)
		}
	}
	if len(answers) >= maxCachedAnswers {
		clear(answers)
	}
}

// poll starts a read of the list's version when the last one started more
// than versionPoll ago. It does not wait for it: until it succeeds, answers
// cached before stay trusted for versionTrust after the last good read.
func (r *Revocations) poll(now int64, timeout time.Duration) {
	if now-r.pollStart.Load() < int64(versionPoll) || !r.polling.CompareAndSwap(false, true) {
		return
	}
	r.pollStart.Store(now)
	go func() {
		defer r.polling.Store(false)
		ctx, end := r.startRead(context.Background())
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		value, _, err := r.store.Get(ctx, revocationsVersion)
		end(err)
		if err != nil {
			return
		}
		r.noteVersion(string(value), now)
	}()
}

// noteVersion records the list version v, read at now: a new one makes
// every cached answer stale. The first read changes the epoch too: answers
// cached before it may predate a revocation whose version it is.
func (r *Revocations) noteVersion(v string, now int64) {
	if old := r.version.Swap(&v); old == nil || *old != v {
		r.epoch.Add(1)
	}
	r.pollOK.Store(now)
}

// startRead reports a store read to the list's Observer.
func (r *Revocations) startRead(ctx context.Context) (context.Context, func(error)) {
	r.ownerMu.Lock()
	o, issuer := r.observer, r.owner
	r.ownerMu.Unlock()
	return startCall(ctx, o, Call{Kind: callStore, Issuer: issuer, Operation: "get", Purpose: "revocation"})
}
