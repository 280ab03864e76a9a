package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// recorder is an Observer that keeps everything it is told, and marks the
// contexts it returns so that the test can see them reach the HTTP client.
type recorder struct {
	mu          sync.Mutex
	validations []Validation
	calls       []recordedCall
}

type recordedCall struct {
	Call
	ended int
	err   error
}

type markKey struct{}

func (r *recorder) Validated(_ context.Context, v Validation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.validations = append(r.validations, v)
}

func (r *recorder) Call(ctx context.Context, c Call) (context.Context, func(error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, recordedCall{Call: c})
	i := len(r.calls) - 1
	return context.WithValue(ctx, markKey{}, c.Kind), func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[i].ended++
		r.calls[i].err = err
	}
}

// last returns the last validation and forgets the rest.
func (r *recorder) last(t *testing.T) Validation {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.validations) != 1 {
		t.Fatalf("%d validations reported, want 1: %+v", len(r.validations), r.validations)
	}
	v := r.validations[0]
	r.validations = nil
	return v
}

// callsOf returns the calls of a kind (and purpose, for store calls) so far.
func (r *recorder) callsOf(kind, purpose string) []recordedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recordedCall
	for _, c := range r.calls {
		if c.Kind == kind && c.Purpose == purpose {
			out = append(out, c)
		}
	}
	return out
}

// markedTransport records the Observer's mark on each outgoing request.
type markedTransport struct {
	mu    sync.Mutex
	marks map[string]int
}

func (m *markedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	mark, _ := r.Context().Value(markKey{}).(string)
	m.mu.Lock()
	m.marks[mark]++
	m.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestObserver(t *testing.T) {
	k := newKit(t)
	rec := &recorder{}
	transport := &markedTransport{marks: map[string]int{}}
	store := NewMemoryStore()
	v := k.validator(t, func(c *Config) {
		c.Observer = rec
		c.HTTPClient = &http.Client{Transport: transport}
		c.JWKSURL = "" // discovered, so that discovery is observed too
		c.Introspection.Store = store
		c.Revocations = NewRevocations(store)
		c.DPoP = &DPoPConfig{Replay: NewReplayCache(store)}
	})
	ctx := context.Background()
	check := func(name string, got Validation, outcome, reason, kind, cache string) {
		t.Helper()
		if got.Outcome != outcome || got.Reason != reason || got.TokenKind != kind || got.Cache != cache || got.Issuer != v.issuer {
			t.Errorf("%s: got %+v, want outcome %q reason %q kind %q cache %q", name, got, outcome, reason, kind, cache)
		}
		if (got.Err == nil) != (outcome == outcomeAccepted) || got.Duration <= 0 {
			t.Errorf("%s: Err %v, Duration %v", name, got.Err, got.Duration)
		}
	}

	jwt := k.as.Token(map[string]any{"sub": "ann", "jti": "j-1"})
	v.Validate(ctx, jwt)
	check("new JWT", rec.last(t), "accepted", "", "jwt", "")
	v.Validate(ctx, jwt)
	check("JWT again", rec.last(t), "accepted", "", "jwt", "verified")
	v.Validate(ctx, k.as.Token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))
	check("expired", rec.last(t), "rejected", "expired", "jwt", "")
	v.Validate(ctx, k.as.Token(map[string]any{"aud": "https://other.example"}))
	check("audience", rec.last(t), "rejected", "audience", "jwt", "")
	v.Validate(ctx, "a.b.c")
	check("malformed", rec.last(t), "rejected", "malformed", "jwt", "")
	v.ValidateRequest(ctx, &Request{Scheme: "Bearer"})
	check("no token", rec.last(t), "rejected", "no_token", "", "")

	opaque := k.as.OpaqueToken(nil)
	v.Validate(ctx, opaque)
	check("opaque", rec.last(t), "accepted", "", "opaque", "")
	v.Validate(ctx, opaque)
	check("opaque again", rec.last(t), "accepted", "", "opaque", "introspection")
	dead := k.as.OpaqueToken(nil)
	k.as.Revoke(dead)
	v.Validate(ctx, dead)
	check("inactive", rec.last(t), "rejected", "inactive", "opaque", "")
	v.Validate(ctx, dead)
	check("inactive again", rec.last(t), "rejected", "inactive", "opaque", "introspection")

	// Another replica over the same store: the answer is the shared one.
	rec2 := &recorder{}
	v2 := k.validator(t, func(c *Config) { c.Observer = rec2; c.Introspection.Store = store })
	waitFor(t, func() bool {
		_, state, _ := v.intro.shared.get(ctx, sharedAnswerPrefix+storeKey("", v.issuer, accesstokenClientID(v), opaque))
		return state == sharedAnswer
	})
	v2.Validate(ctx, opaque)
	check2 := rec2.last(t)
	if check2.Cache != "shared" || check2.Outcome != "accepted" {
		t.Errorf("replica 2: %+v, want an accepted answer from the shared cache", check2)
	}

	// Revoked, replayed, unavailable.
	if err := NewRevocations(store).RevokeToken(ctx, "j-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, v, jwt, 2*time.Second)
	rec.mu.Lock()
	last := rec.validations[len(rec.validations)-1]
	rec.validations = nil
	rec.mu.Unlock()
	if last.Reason != "revoked" || last.Outcome != "rejected" {
		t.Errorf("revoked: %+v", last)
	}
	key := accesstokentest.NewDPoPKey("ES256")
	bound := k.as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key))
	r := &Request{Scheme: "DPoP", Token: bound, Method: "GET", URL: "https://api.example/x",
		DPoPProof: key.Proof("GET", "https://api.example/x", accesstokentest.WithAccessToken(bound))}
	v.ValidateRequest(ctx, r)
	check("DPoP", rec.last(t), "accepted", "", "jwt", "")
	v.ValidateRequest(ctx, r)
	check("DPoP replay", rec.last(t), "rejected", "dpop_replay", "jwt", "verified")
	k.down.Store(true)
	v.Validate(ctx, k.as.OpaqueToken(nil))
	check("endpoint down", rec.last(t), "unavailable", "unavailable", "opaque", "")
	k.down.Store(false)

	// Calls: each kind seen, each ended exactly once, errors reported, and
	// the Observer's context reached the HTTP client.
	waitFor(t, func() bool { return len(rec.callsOf(callStore, "revocation")) > 0 })
	for _, kc := range []struct{ kind, purpose string }{
		{callDiscovery, ""}, {callJWKS, ""}, {callIntrospection, ""},
		{callStore, "introspection"}, {callStore, "revocation"}, {callStore, "dpop_replay"},
	} {
		calls := rec.callsOf(kc.kind, kc.purpose)
		if len(calls) == 0 {
			t.Errorf("no %s %s call reported", kc.kind, kc.purpose)
		}
		for _, c := range calls {
			if c.Issuer != v.issuer || (kc.kind != callStore) != (c.URL != "") || (kc.kind == callStore) != (c.Operation != "") {
				t.Errorf("call %+v", c)
			}
		}
	}
	waitFor(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, c := range rec.calls {
			if c.ended != 1 {
				return false
			}
		}
		return true
	})
	failed := 0
	for _, c := range rec.callsOf(callIntrospection, "") {
		if c.err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed introspection calls reported, want 1", failed)
	}
	if jwks := rec.callsOf(callJWKS, ""); jwks[0].URL != k.as.JWKSURL() {
		t.Errorf("JWKS call URL %q, want %q", jwks[0].URL, k.as.JWKSURL())
	}
	transport.mu.Lock()
	for _, kind := range []string{callDiscovery, callJWKS, callIntrospection} {
		if transport.marks[kind] == 0 {
			t.Errorf("no %s request carried the Observer's context: %v", kind, transport.marks)
		}
	}
	transport.mu.Unlock()

	// No token anywhere in what the Observer saw.
	rec.mu.Lock()
	seen := fmt.Sprintf("%+v %+v", rec.validations, rec.calls)
	rec.mu.Unlock()
	for _, tok := range []string{jwt, opaque, dead, bound} {
		if strings.Contains(seen, tok) {
			t.Fatal("a token reached the Observer")
		}
	}
}

// Under a MultiIssuer each validation goes to the Observer of the issuer
// that judged it; one that reached no issuer to the first listed one's.
func TestObserverMultiIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	ra, rb := &recorder{}, &recorder{}
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, StrictStart: true, Observer: ra},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, StrictStart: true, Observer: rb},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	m.Validate(ctx, b.Token(nil))
	if got := rb.last(t); got.Issuer != b.Issuer() || got.Outcome != "accepted" {
		t.Errorf("issuer b: %+v", got)
	}
	m.Validate(ctx, b.Token(nil))
	m.ValidateRequest(ctx, &Request{Scheme: "Bearer", Token: a.Token(nil)})
	if got := ra.last(t); got.Issuer != a.Issuer() || got.Outcome != "accepted" {
		t.Errorf("issuer a: %+v", got)
	}
	rb.last(t)
	stranger := accesstokentest.NewServer()
	defer stranger.Close()
	m.Validate(ctx, stranger.Token(nil))
	if got := ra.last(t); got.Issuer != "" || got.Reason != "issuer" || got.Outcome != "rejected" {
		t.Errorf("untrusted issuer: %+v", got)
	}
	if len(rb.validations) != 0 {
		t.Errorf("issuer b's Observer saw %d validations of others", len(rb.validations))
	}
}

// Every description of the error table has a reason of its own or a
// documented group, never the catch-all by accident.
func TestObserverReasons(t *testing.T) {
	for _, e := range []*Error{
		newError(ErrNoToken, "", nil), newError(ErrUnavailable, "", nil), newError(ErrInvalidRequest, descScheme, nil),
		newError(ErrUseDPoPNonce, descDPoPNonce, nil), newError(ErrInvalidDPoPProof, descDPoPProof, nil),
		newError(ErrInsufficientUserAuthentication, descInsufficientAuthn, nil),
		newError(ErrInvalidToken, descRevoked, nil), newError(ErrInvalidToken, descCertMismatch, nil),
	} {
		if r := e.reason(); r == "invalid" || r == "" {
			t.Errorf("%v: reason %q", e, r)
		}
	}
	if r := newError(ErrInvalidToken, descInvalid, errors.New("x")).reason(); r != "invalid" {
		t.Errorf("generic refusal: %q", r)
	}
}
