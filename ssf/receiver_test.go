package ssf_test

// The transmitter these tests talk to is internal/transmitter, a replica
// built from the texts of OpenID Shared Signals Framework 1.0 (§4 the SET
// profile, §7 metadata, §8 stream management), CAEP 1.0 §3 and RISC 1.0 §2
// (event types and their subjects), RFC 8417 (SET), RFC 8935 (push) and
// RFC 8936 (poll), RFC 9493 (subject identifiers): real HTTPS, real ES256
// keys. The access tokens come from accesstokentest's authorization server.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/ssf"
)

const audience = "https://api.example.com/ssf-receiver"

// recorder is an ssf.Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []ssf.Event
}

func (r *recorder) SecurityEvent(_ context.Context, e ssf.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// waitFor waits until the observer has seen an event of type typ: an
// event's outcome is reported after it took effect (a Verify can return
// before its event is reported).
func (r *recorder) waitFor(t *testing.T, typ string) ssf.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		for i := len(r.events) - 1; i >= 0; i-- {
			if r.events[i].Type == typ {
				e := r.events[i]
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the observer never saw a %s event", typ)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) last(t *testing.T) ssf.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		t.Fatal("the observer saw no event")
	}
	return r.events[len(r.events)-1]
}

// faultyStore is a Store that can be taken down.
type faultyStore struct {
	accesstoken.Store
	mu   sync.Mutex
	down bool
}

var errDown = errors.New("store down")

func (s *faultyStore) isDown() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.down }
func (s *faultyStore) setDown(d bool) {
	s.mu.Lock()
	s.down = d
	s.mu.Unlock()
}
func (s *faultyStore) Get(ctx context.Context, k string) ([]byte, bool, error) {
	if s.isDown() {
		return nil, false, errDown
	}
	return s.Store.Get(ctx, k)
}
func (s *faultyStore) Set(ctx context.Context, k string, v []byte, e time.Time) error {
	if s.isDown() {
		return errDown
	}
	return s.Store.Set(ctx, k, v, e)
}
func (s *faultyStore) SetIfAbsent(ctx context.Context, k string, v []byte, e time.Time) (bool, error) {
	if s.isDown() {
		return false, errDown
	}
	return s.Store.SetIfAbsent(ctx, k, v, e)
}

type fixture struct {
	as     *accesstokentest.Server
	tx     *transmitter.Transmitter
	store  *faultyStore
	v      *accesstoken.Validator
	recv   *ssf.Receiver
	push   *httptest.Server
	stream ssf.Stream
	obs    *recorder
}

const pushAuthz = "Bearer push-secret-1"

// newFixture starts the authorization server, the transmitter, an API
// validator and a receiver sharing its revocation list, and creates a
// stream of the given delivery method.
func newFixture(t testing.TB, method string, edit func(*ssf.Config)) *fixture {
	t.Helper()
	f := &fixture{as: accesstokentest.NewServer(), obs: &recorder{}}
	t.Cleanup(f.as.Close)
	f.tx = transmitter.New(t, audience)
	f.store = &faultyStore{Store: accesstoken.NewMemoryStore()}
	list := accesstoken.NewRevocations(f.store)
	var err error
	f.v, err = accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true, Revocations: list,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.v.Close() })
	cfg := ssf.Config{
		Transmitter: f.tx.Issuer(), Issuer: f.as.Issuer(), Audience: []string{audience}, Revocations: list,
		PushAuthorization: pushAuthz, HTTPClient: f.tx.Client(), Observer: f.obs,
	}
	if edit != nil {
		edit(&cfg)
	}
	f.recv, err = ssf.NewReceiver(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.recv.Close() })
	f.push = httptest.NewServer(f.recv)
	t.Cleanup(f.push.Close)
	d := ssf.Delivery{Method: method}
	if method == ssf.DeliveryPush {
		d.EndpointURL = f.push.URL + "/ssf/events"
	}
	if f.stream, err = f.recv.CreateStream(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return f
}

// token is an access token of sub in session sid, issued age ago.
func (f *fixture) token(sub, sid, jti string, age time.Duration) string {
	return f.as.Token(map[string]any{"sub": sub, "sid": sid, "jti": jti, "iat": time.Now().Add(-age).Unix()})
}

func (f *fixture) issSub(sub string) map[string]any {
	return map[string]any{"format": "iss_sub", "iss": f.as.Issuer(), "sub": sub}
}

// refusedWithin waits until v refuses token as revoked.
func refusedWithin(t *testing.T, v accesstoken.TokenValidator, token string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := v.Validate(context.Background(), token)
		if err != nil {
			if e := accesstoken.AsError(err); e.Description != "The access token was revoked" {
				t.Fatalf("refused, but not as revoked: %v", err)
			}
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still accepted %v after the event", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stillAccepted checks that v accepts token, after the list's bound.
func stillAccepted(t *testing.T, v accesstoken.TokenValidator, tokens ...string) {
	t.Helper()
	time.Sleep(1100 * time.Millisecond) // past the revocation list's bound
	for _, tok := range tokens {
		if _, err := v.Validate(context.Background(), tok); err != nil {
			t.Fatalf("a token the event does not cover was refused: %v", err)
		}
	}
}

// Every event type the receiver acts on, with the effect the contract
// gives it; and the ones it must ignore.
func TestEventEffects(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, func(c *ssf.Config) {
		c.ResolveSubject = func(_ context.Context, s map[string]any) (string, bool) {
			if s["format"] == "email" && s["email"] == "eve@example.com" {
				return "eve", true
			}
			return "", false
		}
	})
	eventAt := time.Now().Add(-time.Minute).Unix()
	type tc struct {
		name      string
		event     string
		subject   func(user, sid, jti string) map[string]any // sub_id
		inEvent   bool                                       // the subject inside the event, as before SSF 1.0
		reason    string                                     // Event.Reason
		revoked   string                                     // which token must be refused: "same" (the session's or the jti's), "old" (the user's, issued before), "" none
		wantShort string
	}
	user := func(user, _, _ string) map[string]any { return f.issSub(user) }
	cases := []tc{
		{"CAEP session-revoked, complex subject with a session", transmitter.CAEP + "session-revoked",
			func(u, sid, _ string) map[string]any {
				return map[string]any{"format": "complex", "user": f.issSub(u), "session": map[string]any{"format": "opaque", "id": sid}}
			}, false, "session", "same", "caep/session-revoked"},
		{"CAEP session-revoked, user only", transmitter.CAEP + "session-revoked", user, false, "subject", "old", "caep/session-revoked"},
		{"CAEP session-revoked, subject in the event (pre-1.0 form)", transmitter.CAEP + "session-revoked", user, true, "subject", "old", "caep/session-revoked"},
		{"CAEP credential-change", transmitter.CAEP + "credential-change", user, false, "subject", "old", "caep/credential-change"},
		{"CAEP token-claims-change", transmitter.CAEP + "token-claims-change", user, false, "subject", "old", "caep/token-claims-change"},
		{"RISC account-disabled", transmitter.RISC + "account-disabled", user, false, "subject", "old", "risc/account-disabled"},
		{"RISC account-purged", transmitter.RISC + "account-purged", user, false, "subject", "old", "risc/account-purged"},
		{"RISC credential-compromise", transmitter.RISC + "credential-compromise", user, false, "subject", "old", "risc/credential-compromise"},
		{"RISC sessions-revoked", transmitter.RISC + "sessions-revoked", user, false, "subject", "old", "risc/sessions-revoked"},
		{"OAuth tokens-revoked", transmitter.OAuth + "tokens-revoked", user, false, "subject", "old", "oauth/tokens-revoked"},
		{"OAuth token-revoked by jti", transmitter.OAuth + "token-revoked",
			func(_, _, jti string) map[string]any {
				return map[string]any{"format": "jwt_id", "iss": f.as.Issuer(), "jti": jti}
			}, false, "token", "same", "oauth/token-revoked"},
		{"opaque subject", transmitter.RISC + "account-disabled",
			func(u, _, _ string) map[string]any { return map[string]any{"format": "opaque", "id": u} }, false, "subject", "old", "risc/account-disabled"},
		{"aliases, one of the tokens' issuer", transmitter.CAEP + "credential-change",
			func(u, _, _ string) map[string]any {
				return map[string]any{"format": "aliases", "identifiers": []any{
					map[string]any{"format": "phone_number", "phone_number": "+12065550100"}, f.issSub(u)}}
			}, false, "subject", "old", "caep/credential-change"},
		{"email through ResolveSubject", transmitter.RISC + "account-disabled",
			func(string, string, string) map[string]any {
				return map[string]any{"format": "email", "email": "eve@example.com"}
			},
			false, "subject", "old", "risc/account-disabled"},
		{"email nobody resolves", transmitter.RISC + "account-disabled",
			func(string, string, string) map[string]any {
				return map[string]any{"format": "email", "email": "who@example.com"}
			},
			false, "unknown_subject", "", "risc/account-disabled"},
		{"subject of another issuer", transmitter.RISC + "account-disabled",
			func(u, _, _ string) map[string]any {
				return map[string]any{"format": "iss_sub", "iss": "https://other.example.com", "sub": u}
			}, false, "other_issuer", "", "risc/account-disabled"},
		{"complex subject whose user is of another issuer", transmitter.CAEP + "session-revoked",
			func(u, sid, _ string) map[string]any {
				return map[string]any{"format": "complex", "user": map[string]any{"format": "iss_sub", "iss": "https://other.example.com", "sub": u},
					"session": map[string]any{"format": "opaque", "id": sid}}
			}, false, "other_issuer", "", "caep/session-revoked"},
		{"token-revoked naming a token hash", transmitter.OAuth + "token-revoked",
			func(string, string, string) map[string]any {
				return map[string]any{"format": "oauth_token", "token_type": "access_token", "token_identifier_alg": "hash_base64_sha512_sha512", "token": "aGFzaA"}
			}, false, "unknown_subject", "", "oauth/token-revoked"},
		{"CAEP assurance-level-change (no effect here)", transmitter.CAEP + "assurance-level-change", user, false, "unknown_event", "", "other"},
		{"RISC account-enabled (no effect here)", transmitter.RISC + "account-enabled", user, false, "unknown_event", "", "other"},
		{"an event type nobody defined", "https://example.com/event-type/whatever", user, false, "unknown_event", "", "other"},
	}
	// Tokens no event covers, checked once after the last event, past the
	// revocation list's bound.
	var kept []string
	stillAccepted := func(_ *testing.T, _ accesstoken.TokenValidator, tokens ...string) {
		kept = append(kept, tokens...)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := "user-" + string(rune('a'+i))
			if c.name == "email through ResolveSubject" {
				u = "eve"
			}
			sid, jti := "sid-"+u, "jti-"+u
			target := f.token(u, sid, jti, 2*time.Minute)                 // before the event
			sameSession := f.token(u, sid, jti+"-2", 2*time.Minute)       // same session, another jti
			otherSession := f.token(u, sid+"-2", jti+"-3", 2*time.Minute) // the user's other session
			later := f.token(u, sid+"-3", jti+"-4", 30*time.Second)       // issued after the event
			for _, tok := range []string{target, sameSession, otherSession, later} {
				if _, err := f.v.Validate(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
			}
			payload := map[string]any{"event_timestamp": eventAt, "initiating_entity": "admin"}
			var subID map[string]any
			if c.inEvent {
				payload["subject"] = c.subject(u, sid, jti)
			} else {
				subID = c.subject(u, sid, jti)
			}
			resp := f.tx.Emit(f.stream.ID, f.tx.SET(c.event, payload, subID))
			if resp.Status != http.StatusAccepted {
				t.Fatalf("push answered %v, want 202", resp)
			}
			ev := f.obs.last(t)
			if ev.Reason != c.reason || ev.Type != c.wantShort || ev.Delivery != "push" {
				t.Fatalf("observed %+v, want reason %q type %q", ev, c.reason, c.wantShort)
			}
			switch c.revoked {
			case "same":
				refusedWithin(t, f.v, target, 1500*time.Millisecond)
				if c.reason == "session" {
					refusedWithin(t, f.v, sameSession, 100*time.Millisecond)
					stillAccepted(t, f.v, otherSession, later)
				} else {
					stillAccepted(t, f.v, sameSession, otherSession, later)
				}
			case "old":
				refusedWithin(t, f.v, target, 1500*time.Millisecond)
				refusedWithin(t, f.v, otherSession, 100*time.Millisecond)
				stillAccepted(t, f.v, later)
			default:
				if ev.Outcome != "ignored" {
					t.Fatalf("outcome %q, want ignored", ev.Outcome)
				}
				stillAccepted(t, f.v, target, sameSession, otherSession, later)
			}
		})
	}
	time.Sleep(1100 * time.Millisecond)
	for _, tok := range kept {
		if _, err := f.v.Validate(context.Background(), tok); err != nil {
			t.Fatalf("a token no event covers was refused: %v", err)
		}
	}
}

// An event that happened before the subject's cut-off, arriving late,
// never admits the tokens a later event refused.
func TestLateEventKeepsTheLaterCutoff(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	tok := f.token("zoe", "z-1", "z-j", 90*time.Second) // issued before the newer event, after the older
	newer := f.tx.SET(transmitter.RISC+"credential-compromise", map[string]any{"event_timestamp": time.Now().Add(-time.Minute).Unix()}, f.issSub("zoe"))
	older := f.tx.SET(transmitter.CAEP+"credential-change", map[string]any{"event_timestamp": time.Now().Add(-time.Hour).Unix()}, f.issSub("zoe"))
	for _, set := range []string{newer, older} {
		if r := f.tx.Emit(f.stream.ID, set); r.Status != http.StatusAccepted {
			t.Fatal(r)
		}
	}
	refusedWithin(t, f.v, tok, 1500*time.Millisecond)
	time.Sleep(1100 * time.Millisecond)
	refusedWithin(t, f.v, tok, 0)
}

// Every hostile SET the RFCs' security considerations name (RFC 8417 §5,
// RFC 8935 §4, RFC 8936 §4, RFC 8725 §2-3, SSF 1.0 §10) is refused with
// its RFC 8935 error code and changes nothing: the revocation list's
// version is never written, and the victim's tokens stay accepted.
func TestHostileSETs(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	victim := f.token("victim", "v-sid", "v-jti", time.Minute)
	endpoint := f.push.URL + "/ssf/events"
	session := map[string]any{"format": "complex", "user": f.issSub("victim"), "session": map[string]any{"format": "opaque", "id": "v-sid"}}
	ev := transmitter.CAEP + "session-revoked"
	attacker := transmitter.NewKey("t-1") // the transmitter's kid, another key
	pubX := f.tx.Key().JWK()["x"].(string)
	hs := func() string { // HS256 keyed with the transmitter's public key (RFC 8725 §2.1)
		return hmacJWS(map[string]any{"alg": "HS256", "kid": "t-1", "typ": "secevent+jwt"},
			map[string]any{"iss": f.tx.Issuer(), "aud": audience, "iat": time.Now().Unix(), "jti": "hs", "sub_id": session, "events": map[string]any{ev: map[string]any{}}},
			[]byte(pubX))
	}
	cases := []struct {
		name   string
		body   string
		ctype  string // "" = application/secevent+jwt
		authz  string // "-" = none; "" = the right one
		status int
		code   string
		reason string
	}{
		{"no Authorization", f.tx.SET(ev, nil, session), "", "-", 401, "authentication_failed", "authentication"},
		{"wrong Authorization", f.tx.SET(ev, nil, session), "", "Bearer guess", 401, "authentication_failed", "authentication"},
		{"wrong Content-Type", f.tx.SET(ev, nil, session), "application/jwt", "", 400, "invalid_request", "content_type"},
		{"not a JWT", "hello", "", "", 400, "invalid_request", "malformed"},
		{"too large", strings.Repeat("a", 70<<10), "", "", 400, "invalid_request", "too_large"},
		{"alg none", unsigned(f.tx.SET(ev, nil, session)), "", "", 400, "invalid_request", "malformed"},
		{"alg none with a signature", unsigned(f.tx.SET(ev, nil, session)) + "c2ln", "", "", 400, "invalid_key", "algorithm"},
		{"HS256 with the public key as secret", hs(), "", "", 400, "invalid_key", "algorithm"},
		{"signed by another key under the transmitter's kid", f.tx.SET(ev, nil, session, transmitter.SignedBy(attacker)), "", "", 400, "invalid_key", "signature"},
		{"unknown kid", f.tx.SET(ev, nil, session, transmitter.SignedBy(transmitter.NewKey("t-9"))), "", "", 400, "invalid_key", "unknown_key"},
		{"signature altered", altered(f.tx.SET(ev, nil, session)), "", "", 400, "invalid_key", "signature"},
		{"no typ", f.tx.SET(ev, nil, session, transmitter.Header("typ", nil)), "", "", 400, "invalid_request", "type"},
		{"typ JWT", f.tx.SET(ev, nil, session, transmitter.Header("typ", "JWT")), "", "", 400, "invalid_request", "type"},
		{"an access token posted as a SET", f.as.Token(map[string]any{"sub": "victim", "iss": f.tx.Issuer(), "aud": audience, "events": map[string]any{ev: map[string]any{}}}), "", "", 400, "", ""},
		{"typ logout+jwt (a back-channel logout token)", f.tx.SET(ev, nil, session, transmitter.Header("typ", "logout+jwt")), "", "", 400, "invalid_request", "type"},
		{"another issuer", f.tx.SET(ev, nil, session, transmitter.Claim("iss", "https://evil.example.com")), "", "", 400, "invalid_issuer", "issuer"},
		{"another audience", f.tx.SET(ev, nil, session, transmitter.Claim("aud", "https://other-api.example.com")), "", "", 400, "invalid_audience", "audience"},
		{"no audience", f.tx.SET(ev, nil, session, transmitter.Claim("aud", nil)), "", "", 400, "invalid_audience", "audience"},
		{"no iat", f.tx.SET(ev, nil, session, transmitter.Claim("iat", nil)), "", "", 400, "invalid_request", "no_iat"},
		{"iat two days old", f.tx.SET(ev, nil, session, transmitter.Claim("iat", time.Now().Add(-48*time.Hour).Unix())), "", "", 400, "invalid_request", "too_old"},
		{"iat ten minutes ahead", f.tx.SET(ev, nil, session, transmitter.Claim("iat", time.Now().Add(10*time.Minute).Unix())), "", "", 400, "invalid_request", "issued_in_future"},
		{"expired", f.tx.SET(ev, nil, session, transmitter.Claim("exp", time.Now().Add(-10*time.Minute).Unix())), "", "", 400, "invalid_request", "expired"},
		{"no jti", f.tx.SET(ev, nil, session, transmitter.Claim("jti", nil)), "", "", 400, "invalid_request", "no_jti"},
		{"two events", f.tx.SET(ev, nil, session, transmitter.Claim("events", map[string]any{ev: map[string]any{}, transmitter.RISC + "account-disabled": map[string]any{}})), "", "", 400, "invalid_request", "events"},
		{"no events", f.tx.SET(ev, nil, session, transmitter.Claim("events", nil)), "", "", 400, "invalid_request", "events"},
		{"events not an object", f.tx.SET(ev, nil, session, transmitter.Claim("events", []any{ev})), "", "", 400, "invalid_request", "events"},
		{"event not an object", f.tx.SET(ev, nil, session, transmitter.Claim("events", map[string]any{ev: "revoke"})), "", "", 400, "invalid_request", "events"},
		{"no subject", f.tx.SET(ev, nil, nil), "", "", 400, "invalid_request", "subject"},
		{"iss_sub without sub", f.tx.SET(ev, nil, map[string]any{"format": "iss_sub", "iss": f.as.Issuer()}), "", "", 400, "invalid_request", "subject"},
		{"subject not an object", f.tx.SET(ev, nil, nil, transmitter.Claim("sub_id", "victim")), "", "", 400, "invalid_request", "subject"},
		{"nested aliases", f.tx.SET(ev, nil, map[string]any{"format": "aliases", "identifiers": []any{map[string]any{"format": "aliases", "identifiers": []any{f.issSub("victim")}}}}), "", "", 400, "invalid_request", "subject"},
		{"JWE", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", "", "", 400, "invalid_request", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			authz := pushAuthz
			switch c.authz {
			case "-":
				authz = ""
			case "":
			default:
				authz = c.authz
			}
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/secevent+jwt"
			}
			resp := f.tx.PushAs(endpoint, authz, ctype, c.body)
			if resp.Status != c.status {
				t.Fatalf("answered %v, want %d", resp, c.status)
			}
			var body struct{ Err, Description string }
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("error body %q: %v", resp.Body, err)
			}
			if c.code != "" && body.Err != c.code || body.Err == "" || body.Description == "" {
				t.Fatalf("error body %+v, want err %q", body, c.code)
			}
			ev := f.obs.last(t)
			if ev.Outcome != "refused" || c.reason != "" && ev.Reason != c.reason {
				t.Fatalf("observed %+v, want refused, reason %q", ev, c.reason)
			}
			if strings.Contains(resp.Body, "victim") || strings.Contains(resp.Body, "eyJ") {
				t.Fatalf("the answer echoes the SET: %s", resp.Body)
			}
		})
	}
	if _, found, _ := f.store.Get(context.Background(), "revocations-version"); found {
		t.Fatal("a hostile SET wrote to the revocation list")
	}
	stillAccepted(t, f.v, victim)
}

// A SET replayed, to this replica or another one, is acknowledged and
// ignored: nothing is written again.
func TestReplayedSET(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	set := f.tx.SET(transmitter.CAEP+"session-revoked", nil, map[string]any{"format": "complex", "session": map[string]any{"format": "opaque", "id": "r-sid"}})
	if r := f.tx.Emit(f.stream.ID, set); r.Status != 202 || f.obs.last(t).Reason != "session" {
		t.Fatal(r, f.obs.last(t))
	}
	version, _, _ := f.store.Get(context.Background(), "revocations-version")
	if r := f.tx.Emit(f.stream.ID, set); r.Status != 202 {
		t.Fatal(r)
	}
	if ev := f.obs.last(t); ev.Outcome != "ignored" || ev.Reason != "replay" {
		t.Fatalf("replay observed as %+v", ev)
	}
	again, _, _ := f.store.Get(context.Background(), "revocations-version")
	if string(again) != string(version) {
		t.Fatal("the replay wrote to the revocation list")
	}
}

func unsigned(set string) string {
	parts := strings.Split(set, ".")
	return b64json(map[string]any{"alg": "none", "typ": "secevent+jwt"}) + "." + parts[1] + "."
}

func altered(set string) string {
	parts := strings.Split(set, ".")
	sig := []byte(parts[2])
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	return parts[0] + "." + parts[1] + "." + string(sig)
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hmacJWS(header, claims map[string]any, secret []byte) string {
	input := b64json(header) + "." + b64json(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// RFC 8936: a poll fetches the queued SETs, applies them, acknowledges
// those applied or ignored and reports the refused ones in setErrs with
// their codes, in the same Poll call.
func TestPoll(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPoll, nil)
	if f.stream.Delivery.EndpointURL == "" {
		t.Fatal("the transmitter gave no poll endpoint")
	}
	tok := f.token("pat", "p-sid", "p-jti", time.Minute)
	good := f.tx.SET(transmitter.CAEP+"session-revoked", nil, map[string]any{"format": "complex", "user": f.issSub("pat"), "session": map[string]any{"format": "opaque", "id": "p-sid"}})
	unknown := f.tx.SET(transmitter.CAEP+"assurance-level-change", nil, f.issSub("pat"))
	badAud := f.tx.SET(transmitter.RISC+"account-disabled", nil, f.issSub("pat"), transmitter.Claim("aud", "https://elsewhere.example.com"))
	forged := f.tx.SET(transmitter.RISC+"account-disabled", nil, f.issSub("pat"), transmitter.SignedBy(transmitter.NewKey("t-1")))
	for _, set := range []string{good, unknown, badAud, forged} {
		f.tx.Emit(f.stream.ID, set)
	}
	if err := f.recv.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	acks, setErrs, queued := f.tx.StreamState(f.stream.ID)
	if queued != 0 {
		t.Fatalf("%d SETs still queued after the poll", queued)
	}
	want := map[string]bool{transmitter.JTI(good): true, transmitter.JTI(unknown): true}
	if len(acks) != 2 || !want[acks[0]] || !want[acks[1]] {
		t.Fatalf("acknowledged %v, want the applied and the ignored SET", acks)
	}
	if setErrs[transmitter.JTI(badAud)] != "invalid_audience" || setErrs[transmitter.JTI(forged)] != "invalid_key" || len(setErrs) != 2 {
		t.Fatalf("setErrs %v", setErrs)
	}
	refusedWithin(t, f.v, tok, 1500*time.Millisecond)

	// More than one poll's worth: the loop drains it.
	for i := range 250 {
		f.tx.Emit(f.stream.ID, f.tx.SET(transmitter.CAEP+"assurance-level-change", nil, f.issSub("u"+strconv.Itoa(i))))
	}
	if err := f.recv.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acks, _, queued := f.tx.StreamState(f.stream.ID); queued != 0 || len(acks) != 252 {
		t.Fatalf("after 250 more: %d acknowledged, %d queued", len(acks), queued)
	}
}

// When the store is down, a SET is neither applied nor acknowledged: push
// answers 503 with Retry-After, poll leaves it queued and returns an error;
// once the store is back, the same SET is applied.
func TestStoreDownDefersTheSET(t *testing.T) {
	for _, method := range []string{ssf.DeliveryPush, ssf.DeliveryPoll} {
		t.Run(method, func(t *testing.T) {
			f := newFixture(t, method, nil)
			tok := f.token("sam", "s-sid", "s-jti", time.Minute)
			set := f.tx.SET(transmitter.RISC+"account-disabled", nil, f.issSub("sam"))
			f.store.setDown(true)
			if method == ssf.DeliveryPush {
				if r := f.tx.Emit(f.stream.ID, set); r.Status != 503 {
					t.Fatalf("store down: push answered %v, want 503", r)
				}
			} else {
				f.tx.Emit(f.stream.ID, set)
				if err := f.recv.Poll(context.Background()); err == nil {
					t.Fatal("store down: Poll returned no error")
				}
				if acks, errs, queued := f.tx.StreamState(f.stream.ID); len(acks)+len(errs) != 0 || queued != 1 {
					t.Fatalf("store down: acks %v errs %v queued %d", acks, errs, queued)
				}
			}
			if ev := f.obs.last(t); ev.Outcome != "unavailable" || ev.Reason != "store" {
				t.Fatalf("observed %+v", ev)
			}
			f.store.setDown(false)
			if method == ssf.DeliveryPush {
				if r := f.tx.Emit(f.stream.ID, set); r.Status != 202 {
					t.Fatalf("store back: %v", r)
				}
			} else if err := f.recv.Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ev := f.obs.last(t); ev.Outcome != "applied" {
				t.Fatalf("store back: observed %+v", ev)
			}
			refusedWithin(t, f.v, tok, 1500*time.Millisecond)
		})
	}
}

// The stream's own protocol: reading it back, its status, a verification
// event that comes back with the state sent (by push, and by poll), a
// stream-updated event, and a 401 from the transmitter without the token.
func TestStreamManagement(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	s, err := f.recv.Stream(context.Background())
	if err != nil || s.ID != f.stream.ID || s.Delivery.Method != ssf.DeliveryPush || len(s.Audience) != 1 || s.Audience[0] != audience {
		t.Fatalf("read back %+v, %v", s, err)
	}
	if len(f.stream.EventsDelivered) != len(ssf.EventTypes()) {
		t.Fatalf("the transmitter delivers %v of the %d types asked", f.stream.EventsDelivered, len(ssf.EventTypes()))
	}
	st, err := f.recv.Status(context.Background())
	if err != nil || st.Status != "enabled" {
		t.Fatalf("status %+v, %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.recv.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := f.obs.waitFor(t, "ssf/verification"); ev.Outcome != "applied" {
		t.Fatalf("observed %+v", ev)
	}
	if r := f.tx.SetStatus(f.stream.ID, "paused", "maintenance"); r.Status != 202 {
		t.Fatal(r)
	}
	if ev := f.obs.last(t); ev.Type != "ssf/stream-updated" || ev.Outcome != "applied" {
		t.Fatalf("observed %+v", ev)
	}
	if st, _ := f.recv.Status(context.Background()); st.Status != "paused" {
		t.Fatalf("status %+v after the update", st)
	}

	p := newFixture(t, ssf.DeliveryPoll, nil)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- p.recv.Verify(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := p.recv.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			goto polled
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the verification event never came by poll")
		}
	}
polled:
	_, err = ssf.NewReceiver(context.Background(), ssf.Config{
		Transmitter: f.tx.Issuer(), Audience: []string{audience}, Revocations: accesstoken.NewRevocations(accesstoken.NewMemoryStore()),
		HTTPClient: f.tx.ClientWithoutToken(), StreamID: f.stream.ID,
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("reading a stream without the receiver's token: %v", err)
	}
	// With the token and the stream ID, a new receiver (a restarted
	// replica) adopts the stream.
	again, err := ssf.NewReceiver(context.Background(), ssf.Config{
		Transmitter: p.tx.Issuer(), Audience: []string{audience}, Revocations: accesstoken.NewRevocations(accesstoken.NewMemoryStore()),
		HTTPClient: p.tx.Client(), StreamID: p.stream.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Poll(context.Background()); err != nil {
		t.Fatalf("polling the adopted stream: %v", err)
	}
}

// A transmitter that rotates its key: the first SET under the new kid
// fetches the keys again and is applied; after the old key is retired, a
// SET under it is refused.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	old := f.tx.Key()
	hits := f.tx.JWKSHits()
	f.tx.Rotate("t-2", true)
	if r := f.tx.Emit(f.stream.ID, f.tx.SET(transmitter.RISC+"account-disabled", nil, f.issSub("rot"))); r.Status != 202 {
		t.Fatalf("a SET under the new key: %v", r)
	}
	if f.tx.JWKSHits() == hits {
		t.Fatal("the new kid did not fetch the keys again")
	}
	if r := f.tx.Emit(f.stream.ID, f.tx.SET(transmitter.RISC+"account-disabled", nil, f.issSub("rot"), transmitter.SignedBy(old))); r.Status != 400 || !strings.Contains(r.Body, "invalid_key") {
		t.Fatalf("a SET under the retired key: %v", r)
	}
}

// A session-revoked event ends the open streams of that session's tokens
// (accesstoken.Guard), and only those.
func TestEventEndsGuards(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	open := func(token string) context.Context {
		c, err := f.v.Validate(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		ctx := accesstoken.Guard(context.Background(), f.v, c)
		return ctx
	}
	ended := open(f.token("gus", "g-sid", "g-1", time.Minute))
	other := open(f.token("gus", "g-sid-2", "g-2", time.Minute))
	start := time.Now()
	set := f.tx.SET(transmitter.CAEP+"session-revoked", nil, map[string]any{"format": "complex", "user": f.issSub("gus"), "session": map[string]any{"format": "opaque", "id": "g-sid"}})
	if r := f.tx.Emit(f.stream.ID, set); r.Status != 202 {
		t.Fatal(r)
	}
	select {
	case <-ended.Done():
		t.Logf("the session's stream ended %v after the push", time.Since(start))
		if e := accesstoken.AsError(context.Cause(ended)); e.Description != "The access token was revoked" {
			t.Fatalf("cause %v", context.Cause(ended))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the session's guard is still open 2 s after the event")
	}
	time.Sleep(time.Second)
	if other.Err() != nil {
		t.Fatal("the user's other session ended too")
	}
}

func TestNewReceiverErrors(t *testing.T) {
	tx := transmitter.New(t, audience)
	list := accesstoken.NewRevocations(accesstoken.NewMemoryStore())
	for name, cfg := range map[string]ssf.Config{
		"no transmitter":  {Audience: []string{audience}, Revocations: list},
		"no audience":     {Transmitter: tx.Issuer(), Revocations: list},
		"no revocations":  {Transmitter: tx.Issuer(), Audience: []string{audience}},
		"not a URL":       {Transmitter: "idp", Audience: []string{audience}, Revocations: list},
		"issuer mismatch": {Transmitter: tx.Issuer() + "/tenant", Audience: []string{audience}, Revocations: list, HTTPClient: tx.Client()},
		"unreachable":     {Transmitter: "http://127.0.0.1:1", Audience: []string{audience}, Revocations: list},
		"unknown stream":  {Transmitter: tx.Issuer(), Audience: []string{audience}, Revocations: list, HTTPClient: tx.Client(), StreamID: "nope"},
	} {
		if r, err := ssf.NewReceiver(context.Background(), cfg); err == nil {
			r.Close()
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// An event_timestamp later than the SET's iat cannot be true (the SET
// reports an event that happened): the cut-off is then the iat, so that a
// transmitter's clock error does not refuse tokens issued after the SET.
func TestEventTimeNeverAfterIAT(t *testing.T) {
	f := newFixture(t, ssf.DeliveryPush, nil)
	before := f.token("ivy", "i-1", "i-j1", 3*time.Minute)
	after := f.token("ivy", "i-2", "i-j2", time.Minute)
	set := f.tx.SET(transmitter.CAEP+"credential-change", map[string]any{"event_timestamp": time.Now().Add(365 * 24 * time.Hour).Unix()},
		f.issSub("ivy"), transmitter.Claim("iat", time.Now().Add(-2*time.Minute).Unix()))
	if r := f.tx.Emit(f.stream.ID, set); r.Status != 202 {
		t.Fatal(r)
	}
	refusedWithin(t, f.v, before, 1500*time.Millisecond)
	stillAccepted(t, f.v, after)
}

// A Stream is written as SSF 1.0 §8.1.1 shows it: "aud" a string for one
// audience, an array for several; read back either way.
func TestStreamJSON(t *testing.T) {
	for _, aud := range [][]string{{"https://a.example.com"}, {"https://a.example.com", "https://b.example.com"}} {
		b, err := json.Marshal(ssf.Stream{ID: "s1", Audience: aud, Delivery: ssf.Delivery{Method: ssf.DeliveryPoll}})
		if err != nil {
			t.Fatal(err)
		}
		want := `"aud":"https://a.example.com"`
		if len(aud) > 1 {
			want = `"aud":["https://a.example.com","https://b.example.com"]`
		}
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), `"stream_id":"s1"`) {
			t.Fatalf("%s lacks %s", b, want)
		}
		var back ssf.Stream
		if err := json.Unmarshal(b, &back); err != nil || len(back.Audience) != len(aud) || back.ID != "s1" {
			t.Fatalf("read back %+v, %v", back, err)
		}
	}
	var bad ssf.Stream
	if err := json.Unmarshal([]byte(`{"aud":7}`), &bad); err == nil {
		t.Fatal(`"aud": 7 accepted`)
	}
}
