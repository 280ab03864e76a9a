package accesstoken_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
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
	// Seen within a second (bounded here at 3).
	for deadline := time.Now().Add(3 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, err = v.Validate(ctx, token)
	}
	fmt.Println("after:", err)
	// Output:
	// before: <nil>
	// after: accesstoken: invalid token: The access token was revoked: token revoked
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

// Two replicas of an API share introspection answers through one Store: the
// token is introspected once, whichever replica sees it first.
func ExampleIntrospectionConfig_store() {
	var calls atomic.Int32
	as := accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/introspect") {
				calls.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	defer as.Close()
	ctx := context.Background()

	store := accesstoken.NewMemoryStore() // redisstore.New(rdb, prefix) across processes
	replica := func() *accesstoken.Validator {
		v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()},
			Introspection: &accesstoken.IntrospectionConfig{
				ClientID:     accesstokentest.IntrospectionClientID,
				ClientSecret: accesstokentest.IntrospectionClientSecret,
				Store:        store,
			},
		})
		if err != nil {
			panic(err)
		}
		return v
	}
	a, b := replica(), replica()
	defer a.Close()
	defer b.Close()

	token := as.OpaqueToken(map[string]any{"sub": "alice"})
	claims, _ := a.Validate(ctx, token)
	fmt.Println("replica a:", claims.Subject)
	// Replica a stores the answer just after answering; should b come
	// first, it finds a's lease and waits for the answer.
	claims, _ = b.Validate(ctx, token)
	fmt.Println("replica b:", claims.Subject)
	fmt.Println("calls to the introspection endpoint:", calls.Load())
	// Output:
	// replica a: alice
	// replica b: alice
	// calls to the introspection endpoint: 1
}

// A DPoP proof accepted by one replica is refused by another that shares
// the replay cache's Store.
func ExampleNewReplayCache() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()

	store := accesstoken.NewMemoryStore() // redisstore.New(rdb, prefix) across processes
	secret := []byte("one DPoP nonce secret for every replica")
	replica := func() *accesstoken.Validator {
		v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()},
			DPoP: &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store), NonceSecret: secret},
		})
		if err != nil {
			panic(err)
		}
		return v
	}
	a, b := replica(), replica()
	defer a.Close()
	defer b.Close()

	key := accesstokentest.NewDPoPKey("ES256")
	token := as.Token(map[string]any{"sub": "alice"}, accesstokentest.WithDPoPKey(key))
	const url = "https://api.example/orders"
	r := &accesstoken.Request{Scheme: "DPoP", Token: token, Method: "GET", URL: url,
		DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token))}
	_, err := a.ValidateRequest(ctx, r)
	fmt.Println("replica a:", err)
	_, err = b.ValidateRequest(ctx, r)
	fmt.Println("replica b, same proof:", errors.Is(err, accesstoken.ErrInvalidDPoPProof))
	// Output:
	// replica a: <nil>
	// replica b, same proof: true
}
