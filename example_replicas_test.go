package accesstoken_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// A token revoked through one Revocations value is refused by every
// validator whose list reads the same Store. In production the Store is
// shared (redisstore over one Redis) and the admin side is another process.
func ExampleNewRevocations() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()

	store := accesstoken.NewMemoryStore()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Revocations: accesstoken.NewRevocations(store),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	token := as.Token(map[string]any{"sub": "alice", "jti": "t-42"})
	_, err = v.Validate(ctx, token)
	fmt.Println("before:", err)

	admin := accesstoken.NewRevocations(store)
	if err := admin.RevokeToken(ctx, "t-42", time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	for { // seen within a second
		if _, err = v.Validate(ctx, token); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("after:", accesstoken.AsError(err).Description)
	// Output:
	// before: <nil>
	// after: The access token was revoked
}

// outcomes is an Observer that counts validations by outcome and reason,
// the way a metrics system would.
type outcomes struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *outcomes) Validated(_ context.Context, v accesstoken.Validation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts[v.Outcome+" "+v.TokenKind+" "+v.Reason]++
}

func (o *outcomes) Call(ctx context.Context, c accesstoken.Call) (context.Context, func(error)) {
	return ctx, func(err error) {
		if err != nil {
			fmt.Println(c.Kind, "call failed")
		}
	}
}

func ExampleObserver() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()

	o := &outcomes{counts: map[string]int{}}
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Observer: o,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	good := as.Token(map[string]any{"sub": "alice"})
	v.Validate(ctx, good)
	v.Validate(ctx, good)
	v.Validate(ctx, as.Token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))
	v.Validate(ctx, "not a token")

	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Println(o.counts["accepted jwt "], "accepted")
	fmt.Println(o.counts["rejected jwt expired"], "expired")
	fmt.Println(o.counts["rejected opaque opaque"], "opaque without introspection")
	// Output:
	// 2 accepted
	// 1 expired
	// 1 opaque without introspection
}
