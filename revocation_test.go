package accesstoken

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

func TestMemoryStore(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newMemoryStore(func() time.Time { return now })
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "a"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	if err := s.Set(ctx, "a", []byte("1"), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get(ctx, "a"); !ok || string(v) != "1" {
		t.Fatalf("Get after Set: %q %v", v, ok)
	}
	if ok, _ := s.SetIfAbsent(ctx, "a", []byte("2"), now.Add(time.Hour)); ok {
		t.Fatal("SetIfAbsent over an unexpired value")
	}
	if err := s.Set(ctx, "a", []byte("3"), now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(1500 * time.Millisecond) // past the first expiry, not the second
	if v, ok, _ := s.Get(ctx, "a"); !ok || string(v) != "3" {
		t.Fatalf("a replaced value expired with the old one: %q %v", v, ok)
	}
	now = now.Add(time.Second)
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Fatal("Get after expiry")
	}
	if ok, _ := s.SetIfAbsent(ctx, "a", []byte("4"), now.Add(time.Second)); !ok {
		t.Fatal("SetIfAbsent over an expired value")
	}
	// Values are copies both ways.
	b := []byte("x")
	s.Set(ctx, "b", b, now.Add(time.Second))
	b[0] = 'y'
	if v, _, _ := s.Get(ctx, "b"); string(v) != "x" {
		t.Fatalf("the store kept the caller's slice: %q", v)
	}
	// Full: writes of new keys fail; nothing unexpired is dropped; expired
	// values make room.
	s.max = 3
	if _, err := s.SetIfAbsent(ctx, "c", nil, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetIfAbsent(ctx, "d", nil, now.Add(time.Second)); !errors.Is(err, errStoreFull) {
		t.Fatalf("full store: %v", err)
	}
	if ok, err := s.SetIfAbsent(ctx, "a", nil, now.Add(time.Second)); ok || err != nil {
		t.Fatalf("full store, existing key: %v %v", ok, err)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.SetIfAbsent(ctx, "d", nil, now.Add(time.Second)); err != nil || s.len() != 1 {
		t.Fatalf("expired values did not make room: %v, %d left", err, s.len())
	}
}

// countingStore counts calls to a Store and can fail or freeze them.
type countingStore struct {
	Store
	gets, sets atomic.Int32
	keyGets    sync.Map // key prefix -> *atomic.Int32
	down       atomic.Bool
	frozen     atomic.Bool
	delay      atomic.Int64 // nanoseconds each call takes
}

var errStoreDown = errors.New("store down")

func (s *countingStore) fail(ctx context.Context) error {
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if s.frozen.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.down.Load() {
		return errStoreDown
	}
	return nil
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.gets.Add(1)
	prefix, _, _ := strings.Cut(key, ":")
	n, _ := s.keyGets.LoadOrStore(prefix, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	if err := s.fail(ctx); err != nil {
		return nil, false, err
	}
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, value []byte, expires time.Time) error {
	s.sets.Add(1)
	if err := s.fail(ctx); err != nil {
		return err
	}
	return s.Store.Set(ctx, key, value, expires)
}

func (s *countingStore) SetIfAbsent(ctx context.Context, key string, value []byte, expires time.Time) (bool, error) {
	s.sets.Add(1)
	if err := s.fail(ctx); err != nil {
		return false, err
	}
	return s.Store.SetIfAbsent(ctx, key, value, expires)
}

func (s *countingStore) getsOf(prefix string) int32 {
	n, ok := s.keyGets.Load(prefix)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// revocationFixture: an authorization server and two replicas of an API
// sharing one store, each with its own Revocations over it, and an admin
// list over the same store.
type revocationFixture struct {
	as    *accesstokentest.Server
	store *countingStore
	a, b  *Validator
	admin *Revocations
}

func newRevocationFixture(t *testing.T, edit func(*Config)) *revocationFixture {
	t.Helper()
	f := &revocationFixture{as: accesstokentest.NewServer(accesstokentest.WithIntrospectionClient("rs", "secret"))}
	t.Cleanup(f.as.Close)
	f.store = &countingStore{Store: NewMemoryStore()}
	f.admin = NewRevocations(f.store)
	f.a, f.b = f.replica(t, edit), f.replica(t, edit)
	return f
}

func (f *revocationFixture) replica(t *testing.T, edit func(*Config)) *Validator {
	t.Helper()
	cfg := Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true,
		Revocations:   NewRevocations(f.store),
		Introspection: &IntrospectionConfig{ClientID: "rs", ClientSecret: "secret"},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// refusedWithin validates token on v until it is refused as revoked, and
// returns how long that took; it fails the test after limit.
func refusedWithin(t *testing.T, v *Validator, token string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := v.Validate(context.Background(), token)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalidToken) || e.Description != descRevoked {
				t.Fatalf("refused, but not as revoked: %v", err)
			}
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still accepted %v after the revocation", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRevokeTokenOnAnotherReplica(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	token := f.as.Token(map[string]any{"sub": "ann", "jti": "t-1"})
	other := f.as.Token(map[string]any{"sub": "ann", "jti": "t-2"})
	// Both replicas have seen the token: it is in their verified-token
	// caches, and its "not revoked" answer in their lists' caches.
	for _, v := range []*Validator{f.a, f.b} {
		for range 3 {
			if _, err := v.Validate(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(600 * time.Millisecond) // let a version read happen, so answers are trusted
	for _, v := range []*Validator{f.a, f.b} {
		v.Validate(ctx, token)
	}
	if err := f.admin.RevokeToken(ctx, "t-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	took := refusedWithin(t, f.b, token, time.Second)
	t.Logf("revoked token refused by the other replica after %v", took)
	refusedWithin(t, f.a, token, time.Second)
	if _, err := f.b.Validate(ctx, other); err != nil {
		t.Fatalf("another token of the subject: %v", err)
	}
}

func TestRevokeSubject(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	now := time.Now()
	before := f.as.Token(map[string]any{"sub": "ann", "iat": now.Add(-time.Minute).Unix()})
	noIAT := f.as.Token(map[string]any{"sub": "ann", "iat": nil})
	after := f.as.Token(map[string]any{"sub": "ann", "iat": now.Unix()})
	bob := f.as.Token(map[string]any{"sub": "bob", "iat": now.Add(-time.Minute).Unix()})
	if err := f.admin.RevokeSubject(ctx, "ann", now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, f.a, before, time.Second)
	refusedWithin(t, f.a, noIAT, time.Second)
	for _, tok := range []string{after, bob} {
		if _, err := f.a.Validate(ctx, tok); err != nil {
			t.Fatalf("a token the revocation does not cover: %v", err)
		}
	}
}

// A subject's cut-off only moves forward: an older revocation arriving
// after a newer one (a late event) keeps the newer cut-off, and writers
// racing on one subject leave the latest of their times.
func TestRevokeSubjectKeepsTheLaterCutoff(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	now := time.Now()
	mid := f.as.Token(map[string]any{"sub": "ann", "iat": now.Add(-time.Minute).Unix()})
	if err := f.admin.RevokeSubject(ctx, "ann", now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.RevokeSubject(ctx, "ann", now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, f.a, mid, time.Second)

	base := now.Add(-time.Hour)
	f.store.delay.Store(int64(2 * time.Millisecond)) // reads and writes of racing writers overlap
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			// Each writer has its own list over the shared store, as replicas do.
			errs <- NewRevocations(f.store).RevokeSubject(ctx, "bob", base.Add(time.Duration(i)*time.Second))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	value, ok, err := f.store.Get(ctx, storeKey(revokedSubjectPrefix, "bob"))
	if err != nil || !ok {
		t.Fatalf("no subject record: %v %v", ok, err)
	}
	if want := strconv.FormatInt(base.Add(19*time.Second).UnixNano(), 10); string(value) != want {
		t.Fatalf("cut-off %s after 20 racing writers, want the latest %s", value, want)
	}
}

func TestRevokeIntrospectedToken(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	token := f.as.OpaqueToken(map[string]any{"sub": "ann", "jti": "opaque-1"})
	if _, err := f.a.Validate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.RevokeToken(ctx, "opaque-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, f.a, token, time.Second)
}

// Concurrent validations of one new token read the store once for it.
func TestRevocationReadsOncePerToken(t *testing.T) {
	f := newRevocationFixture(t, nil)
	token := f.as.Token(map[string]any{"sub": "ann"})
	f.a.Validate(context.Background(), f.as.Token(map[string]any{"sub": "warm-up"}))
	time.Sleep(100 * time.Millisecond) // the first version read is done
	jtiBefore := f.store.getsOf("revoked-jti")
	f.store.delay.Store(int64(20 * time.Millisecond)) // a slow store: concurrent callers overlap
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := f.a.Validate(context.Background(), token); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := f.store.getsOf("revoked-jti") - jtiBefore; n != 1 {
		t.Fatalf("640 validations of one token read its revocation %d times, want 1", n)
	}
}

func TestRevocationStoreDown(t *testing.T) {
	f := newRevocationFixture(t, func(c *Config) { c.StoreTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	token := f.as.Token(map[string]any{"sub": "ann"})
	if _, err := f.a.Validate(ctx, token); err != nil {
		t.Fatal(err)
	}
	// Answers cached and trusted: a version read has succeeded since.
	time.Sleep(600 * time.Millisecond)
	f.a.Validate(ctx, token)
	time.Sleep(50 * time.Millisecond)
	if _, err := f.a.Validate(ctx, token); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"down", "frozen"} {
		f.store.down.Store(mode == "down")
		f.store.frozen.Store(mode == "frozen")
		// Once the trusted second has passed, cached answers no longer
		// count and the store must be read: the token is refused.
		deadline := time.Now().Add(3 * time.Second)
		for {
			_, err := f.a.Validate(ctx, token)
			if errors.Is(err, ErrUnavailable) {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("%s: %v, want ErrUnavailable within the trust window", mode, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	f.store.down.Store(false)
	f.store.frozen.Store(false)
	if _, err := f.a.Validate(ctx, token); err != nil {
		t.Fatalf("store back: %v", err)
	}

	open := f.replica(t, func(c *Config) { c.RevocationFailOpen = true; c.StoreTimeout = 50 * time.Millisecond })
	f.store.frozen.Store(true)
	if _, err := open.Validate(ctx, f.as.Token(map[string]any{"sub": "bob"})); err != nil {
		t.Fatalf("RevocationFailOpen with the store frozen: %v", err)
	}
}

func TestRevocationsOneIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	list := NewRevocations(NewMemoryStore())
	_, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, Revocations: list},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, Revocations: list},
	}})
	if err == nil || !strings.Contains(err.Error(), "give each issuer its own") {
		t.Fatalf("one list for two issuers: %v", err)
	}
	if err := list.RevokeToken(context.Background(), "", time.Now()); err == nil {
		t.Fatal("RevokeToken without a jti")
	}
}

// A DPoP proof accepted by one replica is refused by another that shares
// the replay store; when the store is down, DPoP requests fail closed.
func TestSharedReplayCache(t *testing.T) {
	store := &countingStore{Store: NewMemoryStore()}
	f := newDPoPFixture(t, func(c *Config) { c.DPoP.Replay = NewReplayCache(store) })
	other := f.validator(t, func(c *Config) { c.DPoP.Replay = NewReplayCache(store) })
	r := f.request()
	if _, err := f.v.ValidateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	c, err := other.ValidateRequest(context.Background(), r)
	checkResult(t, c, err, result{ErrInvalidDPoPProof, descDPoPProof})
	store.frozen.Store(true)
	_, err = other.ValidateRequest(context.Background(), f.request())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("replay store frozen: %v, want ErrUnavailable", err)
	}
}
