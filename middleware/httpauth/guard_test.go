package httpauth_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// sse sends an event every 20 ms until its context ends, then a last
// "end" event with context.Cause.
func sse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	flusher := w.(http.Flusher)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", endReason(r.Context()))
			return
		case <-tick.C:
			io.WriteString(w, "data: tick\n\n")
			flusher.Flush()
		}
	}
}

func endReason(ctx context.Context) string {
	var e *accesstoken.Error
	if errors.As(context.Cause(ctx), &e) {
		return e.Description
	}
	return context.Cause(ctx).Error()
}

// readEvents reads an event stream until its "end" event (or until the
// response ends) and returns the events' data and when the end came.
func readEvents(t *testing.T, url, token string, limit time.Duration) (ticks int, end string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			if event == "end" {
				return ticks, data, time.Since(start)
			}
			ticks++
		}
	}
	return ticks, "(no end event: " + fmt.Sprint(sc.Err()) + ")", time.Since(start)
}

func TestStreamGuard(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	store := accesstoken.NewMemoryStore()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	replica := func(left time.Duration) *accesstoken.Validator {
		offset := time.Duration(0)
		if left > 0 { // this replica's clock puts exp that far ahead
			offset = time.Until(exp.Add(-left))
		}
		v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
			Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
			Revocations: accesstoken.NewRevocations(store),
			Now:         func() time.Time { return time.Now().Add(offset) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	}
	serve := func(v accesstoken.TokenValidator, h http.HandlerFunc, opts ...httpauth.Option) string {
		srv := httptest.NewServer(httpauth.Middleware(v, opts...)(h))
		t.Cleanup(srv.Close)
		return srv.URL
	}

	t.Run("SSE, expiry", func(t *testing.T) {
		url := serve(replica(500*time.Millisecond), sse, httpauth.WithStreamGuard())
		ticks, end, took := readEvents(t, url, as.Token(map[string]any{"exp": exp.Unix()}), 5*time.Second)
		if end != "The access token expired" || ticks == 0 || took < 400*time.Millisecond || took > 2*time.Second {
			t.Fatalf("%d ticks, end %q after %v", ticks, end, took)
		}
	})
	t.Run("SSE, subject revoked on another replica", func(t *testing.T) {
		url := serve(replica(0), sse, httpauth.WithStreamGuard())
		admin := accesstoken.NewRevocations(store)
		go func() {
			time.Sleep(400 * time.Millisecond)
			admin.RevokeSubject(context.Background(), "sse-user", time.Now())
		}()
		ticks, end, took := readEvents(t, url, as.Token(map[string]any{"sub": "sse-user", "iat": time.Now().Add(-time.Minute).Unix()}), 5*time.Second)
		if end != "The access token was revoked" || ticks == 0 || took > 2500*time.Millisecond {
			t.Fatalf("%d ticks, end %q after %v", ticks, end, took)
		}
		t.Logf("ended %v after the stream started (revoked at 400 ms)", took.Round(time.Millisecond))
	})
	t.Run("SSE, not guarded", func(t *testing.T) {
		url := serve(replica(300*time.Millisecond), sse)
		ticks, end, took := readEvents(t, url, as.Token(map[string]any{"exp": exp.Unix()}), 1200*time.Millisecond)
		if !strings.Contains(end, "no end event") || took < 1100*time.Millisecond || ticks < 20 {
			t.Fatalf("unguarded stream: %d ticks, end %q after %v", ticks, end, took)
		}
	})
	t.Run("streamed request body", func(t *testing.T) {
		url := serve(replica(500*time.Millisecond), func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body) // blocks: the client never ends the body
			fmt.Fprintf(w, "read %d bytes, %v; %s", n, err != nil, endReason(r.Context()))
		}, httpauth.WithStreamGuard())
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte("first part"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The transport waits for a body read under way before it gives
		// up a request: end the body with the context.
		context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
		req, _ := http.NewRequestWithContext(ctx, "POST", url, pr)
		req.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"exp": exp.Unix()}))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "read 10 bytes, true; The access token expired" || time.Since(start) > 2*time.Second {
			t.Fatalf("%q after %v", b, time.Since(start))
		}
	})
}
