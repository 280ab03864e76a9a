package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/redisstore"
)

// TestGuardAcrossReplicas: a server-sent-events stream on one replica
// (httpauth.Middleware with WithStreamGuard) ends within the revocation
// list's bound when another replica, with its own Redis client, revokes its
// token by jti, subject or session through a real redis-server; with Redis
// frozen, open streams stay open.
func TestGuardAcrossReplicas(t *testing.T) {
	srv := startRedis(t)
	client := func() accesstoken.Store {
		rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
		t.Cleanup(func() { rdb.Close() })
		return redisstore.New(rdb, "guard:")
	}
	as := accesstokentest.NewServer()
	defer as.Close()
	replica := func() (*accesstoken.Validator, *accesstoken.Revocations) {
		list := accesstoken.NewRevocations(client())
		v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, Revocations: list,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v, list
	}
	a, _ := replica()
	_, other := replica()
	open := guardedStreams(t, a)
	token := func(claims map[string]any) string { return as.Token(claims) }
	iat := time.Now().Add(-time.Minute).Unix()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		claims map[string]any
		revoke func() error
	}{
		{"by jti", map[string]any{"sub": "ann", "jti": "g-1", "iat": iat}, func() error { return other.RevokeToken(ctx, "g-1", time.Now().Add(time.Hour)) }},
		{"by subject", map[string]any{"sub": "bob", "jti": "g-2", "iat": iat}, func() error { return other.RevokeSubject(ctx, "bob", time.Now()) }},
		{"by session", map[string]any{"sub": "cat", "jti": "g-3", "sid": "s-3", "iat": iat}, func() error { return other.RevokeSession(ctx, "s-3", time.Now().Add(time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := open(token(tc.claims))
			time.Sleep(300 * time.Millisecond)
			if err := tc.revoke(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			select {
			case got := <-end:
				if got != "The access token was revoked" {
					t.Fatalf("end %q", got)
				}
				t.Logf("ended %v after the revocation on the other replica", time.Since(start).Round(time.Millisecond))
			case <-time.After(2500 * time.Millisecond):
				t.Fatal("the stream is still open")
			}
		})
	}
	t.Run("redis frozen", func(t *testing.T) {
		end := open(token(map[string]any{"sub": "dan", "jti": "g-4"}))
		time.Sleep(300 * time.Millisecond)
		srv.freeze()
		defer srv.thaw()
		select {
		case got := <-end:
			t.Fatalf("an open stream ended while Redis could not answer: %q", got)
		case <-time.After(2 * time.Second):
		}
	})
}

// guardedStreams serves server-sent events behind httpauth.Middleware with
// WithStreamGuard on v, and returns how to open one with a token: a channel
// that gets the stream's end event (the refusal's description).
func guardedStreams(t *testing.T, v accesstoken.TokenValidator) func(token string) <-chan string {
	sse := httptest.NewServer(httpauth.Middleware(v, httpauth.WithStreamGuard())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			select {
			case <-r.Context().Done():
				var e *accesstoken.Error
				if errors.As(context.Cause(r.Context()), &e) {
					fmt.Fprintf(w, "event: end\ndata: %s\n\n", e.Description)
				}
				return
			case <-time.After(50 * time.Millisecond):
				fmt.Fprint(w, "data: tick\n\n")
				w.(http.Flusher).Flush()
			}
		}
	})))
	t.Cleanup(sse.Close) // after the streams' own cleanups (LIFO)
	return func(token string) <-chan string {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel) // before sse.Close, which waits for open streams
		req, _ := http.NewRequestWithContext(ctx, "GET", sse.URL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		end := make(chan string, 1)
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && data != "tick" {
					end <- data
					return
				}
			}
			end <- "closed without an end event"
		}()
		return end
	}
}
