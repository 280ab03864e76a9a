package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// endedWithin waits for ctx to end and checks its cause: an *Error with
// description want. It fails the test after limit.
func endedWithin(t *testing.T, ctx context.Context, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(limit):
		t.Fatalf("guard still open after %v", limit)
	}
	took := time.Since(start)
	var e *Error
	cause := context.Cause(ctx)
	if !errors.As(cause, &e) || !errors.Is(cause, ErrInvalidToken) || e.Description != want {
		t.Fatalf("cause %v, want an *Error %q", cause, want)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("Err %v", ctx.Err())
	}
	return took
}

func stillOpen(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatalf("guard ended: %v", context.Cause(ctx))
	case <-time.After(d):
	}
}

// A guard fires at ExpiresAt − Config.Now() plus the leeway, in real time.
func TestGuardExpiry(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		left   time.Duration // ExpiresAt − Config.Now() when the guard starts
	}{
		{"no leeway", 0, 300 * time.Millisecond},
		{"leeway", 400 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offset := time.Until(exp.Add(-tc.left))
			v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
				Leeway: tc.leeway, Now: func() time.Time { return time.Now().Add(offset) }})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			c, err := v.Validate(context.Background(), as.Token(map[string]any{"exp": exp.Unix()}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := Guard(ctx, v, c)
			want := tc.left + tc.leeway
			took := endedWithin(t, g, descExpired, want+2*time.Second)
			if took < want-50*time.Millisecond {
				t.Fatalf("ended after %v, before the %v the token had left", took, want)
			}
			if !errors.Is(context.Cause(g), ErrTokenExpired) {
				t.Fatal("cause does not match ErrTokenExpired")
			}
		})
	}

	t.Run("already expired", func(t *testing.T) {
		c := &Claims{Subject: "ann", ExpiresAt: time.Now().Add(-time.Second)}
		g := Guard(context.Background(), tokenValidatorFunc(nil), c)
		endedWithin(t, g, descExpired, 10*time.Millisecond)
	})
	t.Run("a TokenValidator of one's own: expiry only", func(t *testing.T) {
		c := &Claims{Subject: "ann", ID: "x", ExpiresAt: time.Now().Add(200 * time.Millisecond)}
		endedWithin(t, Guard(context.Background(), tokenValidatorFunc(nil), c), descExpired, 2*time.Second)
	})
	t.Run("nothing can end it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		if g := Guard(ctx, tokenValidatorFunc(nil), &Claims{Subject: "ann"}); g != ctx {
			t.Fatal("a guard with nothing to watch is not ctx itself")
		}
		cancel()
	})
	t.Run("nil claims", func(t *testing.T) {
		endedWithin(t, Guard(context.Background(), tokenValidatorFunc(nil), nil), descInvalid, 10*time.Millisecond)
	})
	t.Run("parent ends first", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		g := Guard(ctx, tokenValidatorFunc(nil), &Claims{ExpiresAt: time.Now().Add(time.Hour)})
		cancel(errors.New("client went away"))
		<-g.Done()
		if context.Cause(g).Error() != "client went away" {
			t.Fatalf("cause %v", context.Cause(g))
		}
	})
}

type tokenValidatorFunc func(context.Context, string) (*Claims, error)

func (f tokenValidatorFunc) Validate(ctx context.Context, token string) (*Claims, error) {
	return f(ctx, token)
}

// Revocation by jti, subject and session, made on another replica, ends a
// guard within the list's bound; a subject cut-off before the token's iat,
// and another session, do not.
func TestGuardRevocation(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	token := func(sub, jti, sid string) *Claims {
		c, err := f.a.Validate(ctx, f.as.Token(map[string]any{"sub": sub, "jti": jti, "sid": sid, "iat": iat.Unix()}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		name   string
		claims *Claims
		revoke func() error
		ends   bool
	}{
		{"by jti", token("ann", "j-1", "s-1"), func() error { return f.b.revocations.RevokeToken(ctx, "j-1", time.Now().Add(time.Hour)) }, true},
		{"by subject", token("bob", "j-2", "s-2"), func() error { return f.b.revocations.RevokeSubject(ctx, "bob", time.Now()) }, true},
		{"by session", token("cat", "j-3", "s-3"), func() error { return f.admin.RevokeSession(ctx, "s-3", time.Now().Add(time.Hour)) }, true},
		{"subject cut-off before iat", token("dan", "j-4", "s-4"), func() error { return f.admin.RevokeSubject(ctx, "dan", iat.Add(-time.Hour)) }, false},
		{"another session", token("eve", "j-5", "s-5"), func() error { return f.admin.RevokeSession(ctx, "s-other", time.Now().Add(time.Hour)) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gctx, cancel := context.WithCancel(ctx)
			defer cancel()
			g := Guard(gctx, f.a, tc.claims)
			stillOpen(t, g, 600*time.Millisecond) // the watcher has read the token's records
			if err := tc.revoke(); err != nil {
				t.Fatal(err)
			}
			if !tc.ends {
				stillOpen(t, g, 1500*time.Millisecond)
				return
			}
			took := endedWithin(t, g, descRevoked, 3*time.Second)
			t.Logf("ended %v after the revocation", took.Round(time.Millisecond))
		})
	}
	// A token validated before its revocation and guarded after it ends
	// too: a new guard is read once, whatever the version.
	c := token("fay", "j-6", "")
	if err := f.admin.RevokeToken(ctx, "j-6", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the watcher has seen the new version
	endedWithin(t, Guard(ctx, f.a, c), descRevoked, 3*time.Second)
}

// A list that cannot be read leaves guards open; the watcher stops when no
// guard is left, and guards start no goroutine each.
func TestGuardWatcher(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	c, err := f.a.Validate(ctx, f.as.Token(map[string]any{"sub": "ann", "jti": "j-1"}))
	if err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithCancel(ctx)
	g := Guard(gctx, f.a, c)
	stillOpen(t, g, 600*time.Millisecond)
	f.store.down.Store(true)
	if err := f.admin.RevokeToken(ctx, "j-1", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("revoked with the store down")
	}
	stillOpen(t, g, 1200*time.Millisecond)
	f.store.down.Store(false)
	cancel()
	list := f.a.revocations
	deadline := time.Now().Add(3 * time.Second)
	for {
		list.guards.mu.Lock()
		n, running := len(list.guards.entries), list.guards.running
		list.guards.mu.Unlock()
		if n == 0 && !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d guards left, watcher running %v, after their contexts ended", n, running)
		}
		time.Sleep(20 * time.Millisecond)
	}

	before := runtime.NumGoroutine()
	parent, stop := context.WithCancel(ctx)
	for range 1000 {
		Guard(parent, f.a, c)
	}
	added := runtime.NumGoroutine() - before
	stop()
	if added > 3 {
		t.Fatalf("1000 guards added %d goroutines", added)
	}
}

// Under a MultiIssuer, a guard has its issuer's leeway and list.
func TestGuardMultiIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	store := NewMemoryStore()
	listA := NewRevocations(store)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, Revocations: listA, StrictStart: true},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, StrictStart: true, Leeway: time.Hour},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	ca, err := m.Validate(ctx, a.Token(map[string]any{"sub": "ann", "jti": "a-1"}))
	if err != nil {
		t.Fatal(err)
	}
	ga := Guard(ctx, m, ca)
	stillOpen(t, ga, 600*time.Millisecond)
	if err := listA.RevokeToken(ctx, "a-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	endedWithin(t, ga, descRevoked, 3*time.Second)

	// b's leeway of an hour keeps a token that expires in a moment open.
	cb, err := m.Validate(ctx, b.Token(map[string]any{"sub": "bob", "exp": time.Now().Add(time.Second).Unix()}))
	if err != nil {
		t.Fatal(err)
	}
	stillOpen(t, Guard(ctx, m, cb), 2*time.Second)
}

// RevokeSession refuses new validations of the session's tokens on every
// replica, and only those; "sid" must be a string.
func TestRevokeSession(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx := context.Background()
	token := f.as.Token(map[string]any{"sub": "ann", "sid": "s-1"})
	other := f.as.Token(map[string]any{"sub": "ann", "sid": "s-2"})
	c, err := f.a.Validate(ctx, token)
	if err != nil || c.SessionID != "s-1" {
		t.Fatalf("SessionID %q, %v", c.SessionID, err)
	}
	if err := f.admin.RevokeSession(ctx, "s-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, f.b, token, 2*time.Second)
	refusedWithin(t, f.a, token, 2*time.Second)
	if _, err := f.a.Validate(ctx, other); err != nil {
		t.Fatalf("another session: %v", err)
	}
	if err := f.admin.RevokeSession(ctx, "", time.Now()); err == nil {
		t.Fatal("RevokeSession without a session ID")
	}
	if _, err := f.a.Validate(ctx, f.as.Token(map[string]any{"sid": 7})); err == nil {
		t.Fatal("a numeric sid was accepted")
	}
}

// BenchmarkGuard: the cost of Guard on a validated token with expiry and a
// revocation list, and, for 10,000 guards open at once, the goroutines
// they add and the memory each holds.
func BenchmarkGuard(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Revocations: NewRevocations(NewMemoryStore())})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	c, err := v.Validate(context.Background(), as.Token(map[string]any{"sub": "ann", "jti": "j-1", "sid": "s-1"}))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("start and end", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithCancel(context.Background())
			Guard(ctx, v, c)
			cancel()
		}
	})
	b.Run("context alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = ctx
		}
	})
	b.Run("10000 open", func(b *testing.B) {
		for b.Loop() {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			g0 := runtime.NumGoroutine()
			parent, cancel := context.WithCancel(context.Background())
			guards := make([]context.Context, 10000)
			for i := range guards {
				guards[i] = Guard(parent, v, c)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(runtime.NumGoroutine()-g0), "goroutines")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10000, "B/guard")
			cancel()
			runtime.KeepAlive(guards)
		}
	})
}

// With many guards of distinct tokens over a store that takes a
// millisecond per read (a Redis across a network), a revocation still ends
// its guard within the list's bound: a recheck reads 16 records at once.
func TestGuardManyTokens(t *testing.T) {
	f := newRevocationFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.store.delay.Store(int64(time.Millisecond))
	const n = 1500 // two records each: 3 s of reads one after another
	guards := make([]context.Context, n)
	for i := range guards {
		guards[i] = Guard(ctx, f.a, &Claims{Subject: fmt.Sprint("user-", i), ID: fmt.Sprint("jti-", i)})
	}
	time.Sleep(time.Second) // every new guard has been read once
	// Every tenth token revoked: all of them must end within the bound,
	// the last one read included.
	for i := 0; i < n; i += 10 {
		if err := f.admin.RevokeToken(context.Background(), fmt.Sprint("jti-", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := 0; i < n; i += 10 {
		endedWithin(t, guards[i], descRevoked, 2*time.Second-time.Since(start))
	}
	t.Logf("%d revoked guards of %d ended within %v", n/10, n, time.Since(start).Round(time.Millisecond))
	for i, g := range guards {
		if i%10 != 0 && g.Err() != nil {
			t.Fatalf("guard %d ended: %v", i, context.Cause(g))
		}
	}
}
