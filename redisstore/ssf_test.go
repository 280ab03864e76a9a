package redisstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/redisstore"
	"github.com/tokenguard/accesstoken/ssf"
)

// TestSharedSignalsAcrossReplicas: two replicas of an API, each with its
// own Redis client on one real redis-server. A session-revoked event (CAEP
// 1.0 §3.1, from the SSF transmitter replica) pushed to replica B refuses
// that session's tokens on replica A and ends the server-sent-events
// stream open on A, within the revocation list's bound; the user's other
// session lives on. The same SET pushed again to replica A is recognised
// as a replay through Redis and changes nothing. Hostile SETs pushed to
// either replica are refused with their RFC 8935 codes.
func TestSharedSignalsAcrossReplicas(t *testing.T) {
	srv := startRedis(t)
	as := accesstokentest.NewServer()
	defer as.Close()
	const receiverAudience = "https://api.example.com/ssf"
	tx := transmitter.New(t, receiverAudience)

	type replica struct {
		v    *accesstoken.Validator
		recv *ssf.Receiver
		push *httptest.Server
	}
	var mu sync.Mutex
	var outcomes []ssf.Event
	observer := observerFunc(func(e ssf.Event) { mu.Lock(); outcomes = append(outcomes, e); mu.Unlock() })
	newReplica := func() replica {
		rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
		t.Cleanup(func() { rdb.Close() })
		list := accesstoken.NewRevocations(redisstore.New(rdb, "ssf:"))
		v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, Revocations: list,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		recv, err := ssf.NewReceiver(context.Background(), ssf.Config{
			Transmitter: tx.Issuer(), Issuer: as.Issuer(), Audience: []string{receiverAudience}, Revocations: list,
			PushAuthorization: "Bearer p", HTTPClient: tx.Client(), Observer: observer,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { recv.Close() })
		push := httptest.NewServer(recv)
		t.Cleanup(push.Close)
		return replica{v: v, recv: recv, push: push}
	}
	a, b := newReplica(), newReplica()
	stream, err := b.recv.CreateStream(context.Background(), ssf.Delivery{Method: ssf.DeliveryPush, EndpointURL: b.push.URL})
	if err != nil {
		t.Fatal(err)
	}

	open := guardedStreams(t, a.v)

	iat := time.Now().Add(-time.Minute).Unix()
	doomed := as.Token(map[string]any{"sub": "ann", "sid": "sess-1", "jti": "a-1", "iat": iat})
	kept := as.Token(map[string]any{"sub": "ann", "sid": "sess-2", "jti": "a-2", "iat": iat})
	for _, tok := range []string{doomed, kept} {
		if _, err := a.v.Validate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	ended, lives := open(doomed), open(kept)
	time.Sleep(300 * time.Millisecond)

	// Hostile SETs first, to both replicas: refused, nothing written.
	session := map[string]any{"format": "complex",
		"user":    map[string]any{"format": "iss_sub", "iss": as.Issuer(), "sub": "ann"},
		"session": map[string]any{"format": "opaque", "id": "sess-1"}}
	event := transmitter.CAEP + "session-revoked"
	for _, h := range []struct {
		set, code string
	}{
		{tx.SET(event, nil, session, transmitter.SignedBy(transmitter.NewKey("t-1"))), "invalid_key"},
		{tx.SET(event, nil, session, transmitter.Claim("iss", "https://evil.example.com")), "invalid_issuer"},
		{tx.SET(event, nil, session, transmitter.Claim("aud", "https://other.example.com")), "invalid_audience"},
		{tx.SET(event, nil, session, transmitter.Header("typ", "JWT")), "invalid_request"},
	} {
		for _, r := range []replica{a, b} {
			if resp := tx.Push(r.push.URL, "Bearer p", h.set); resp.Status != 400 || !strings.Contains(resp.Body, `"err":"`+h.code+`"`) {
				t.Fatalf("hostile SET answered %v, want 400 %s", resp, h.code)
			}
		}
	}

	set := tx.SET(event, map[string]any{"event_timestamp": time.Now().Unix(), "initiating_entity": "admin"}, session)
	start := time.Now()
	if resp := tx.Emit(stream.ID, set); resp.Status != http.StatusAccepted {
		t.Fatalf("push to replica B: %v", resp)
	}
	select {
	case got := <-ended:
		if got != "The access token was revoked" {
			t.Fatalf("stream end %q", got)
		}
		t.Logf("replica A's stream of the session ended %v after the push to replica B", time.Since(start).Round(time.Millisecond))
	case <-time.After(2500 * time.Millisecond):
		t.Fatal("replica A's stream of the revoked session is still open")
	}
	for {
		_, err := a.v.Validate(context.Background(), doomed)
		if err != nil {
			if !strings.Contains(err.Error(), "revoked") {
				t.Fatal(err)
			}
			t.Logf("replica A refuses the session's token %v after the push", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 1500*time.Millisecond {
			t.Fatal("replica A still accepts the revoked session's token")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The same SET replayed to replica A: acknowledged, ignored.
	if resp := tx.Push(a.push.URL, "Bearer p", set); resp.Status != http.StatusAccepted {
		t.Fatalf("replay to replica A: %v", resp)
	}
	mu.Lock()
	last := outcomes[len(outcomes)-1]
	mu.Unlock()
	if last.Outcome != "ignored" || last.Reason != "replay" {
		t.Fatalf("the replay on the other replica was %+v", last)
	}
	select {
	case got := <-lives:
		t.Fatalf("the user's other session's stream ended: %q", got)
	case <-time.After(time.Second):
	}
	if _, err := a.v.Validate(context.Background(), kept); err != nil {
		t.Fatalf("the other session's token: %v", err)
	}
}

type observerFunc func(ssf.Event)

func (f observerFunc) SecurityEvent(_ context.Context, e ssf.Event) { f(e) }
