package connectauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connectauth"
)

const (
	ticks  = service + "Ticks"  // server streaming: a message every 20 ms
	echo   = service + "Echo"   // bidi: answers each message
	upload = service + "Upload" // client streaming: counts messages
)

// streamingMux serves the three kinds of stream. careless handlers ignore
// their context and return nil when a Send fails.
func streamingMux(careless bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(ticks, connect.NewServerStreamHandler(ticks, func(ctx context.Context, _ *connect.Request[str], s *connect.ServerStream[str]) error {
		for {
			if err := s.Send(wrapperspb.String("tick")); err != nil {
				if careless {
					return nil
				}
				return err
			}
			if careless {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	mux.Handle(echo, connect.NewBidiStreamHandler(echo, func(ctx context.Context, s *connect.BidiStream[str, str]) error {
		for {
			m, err := s.Receive() // blocks: the client sends once
			if err != nil {
				return err
			}
			if err := s.Send(m); err != nil {
				return err
			}
		}
	}))
	mux.Handle(upload, connect.NewClientStreamHandler(upload, func(ctx context.Context, s *connect.ClientStream[str]) (*connect.Response[str], error) {
		n := 0
		for s.Receive() {
			n++
		}
		return connect.NewResponse(wrapperspb.String(strings.Repeat("x", n))), s.Err()
	}))
	return mux
}

// wantEnded checks that err is Unauthenticated with the reason, and the
// challenge in its trailers except in gRPC (HTTP/2 trailers may not carry
// WWW-Authenticate).
func wantEnded(t *testing.T, err error, reason string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || ce.Message() != reason {
		t.Fatalf("error %v, want Unauthenticated %q", err, reason)
	}
	if ce.Meta().Get("Content-Type") == "application/grpc" {
		return
	}
	if ch := ce.Meta().Get("Www-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, reason) {
		t.Errorf("challenge %q in %v", ch, ce.Meta())
	}
}

func TestStreamGuard(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	store := accesstoken.NewMemoryStore()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	replica := func(left time.Duration) *accesstoken.Validator {
		offset := time.Duration(0)
		if left > 0 {
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
	admin := accesstoken.NewRevocations(store)
	withToken := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

	for name, proto := range protocols {
		t.Run(name, func(t *testing.T) {
			t.Run("server stream, expiry", func(t *testing.T) {
				srv, client := serve(t, connectauth.Middleware(replica(600*time.Millisecond), connectauth.WithRealm("orders"))(streamingMux(false)), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req := connect.NewRequest(wrapperspb.String("x"))
				req.Header().Set("Authorization", "Bearer "+as.Token(map[string]any{"exp": exp.Unix()}))
				start := time.Now()
				s, err := connect.NewClient[str, str](client, srv.URL+ticks, proto).CallServerStream(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for s.Receive() {
					n++
				}
				took := time.Since(start)
				wantEnded(t, s.Err(), "The access token expired")
				if n == 0 || took < 500*time.Millisecond || took > 2*time.Second {
					t.Fatalf("%d messages, ended after %v", n, took)
				}
			})
			t.Run("careless handler", func(t *testing.T) {
				srv, client := serve(t, connectauth.Middleware(replica(400*time.Millisecond))(streamingMux(true)), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req := connect.NewRequest(wrapperspb.String("x"))
				req.Header().Set("Authorization", "Bearer "+as.Token(map[string]any{"exp": exp.Unix()}))
				s, err := connect.NewClient[str, str](client, srv.URL+ticks, proto).CallServerStream(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				for s.Receive() {
				}
				wantEnded(t, s.Err(), "The access token expired")
			})
			t.Run("bidi, blocked in Receive, revoked on another replica", func(t *testing.T) {
				srv, client := serve(t, connectauth.Middleware(replica(0))(streamingMux(false)), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				jti := "bidi-" + name
				c := connect.NewClient[str, str](client, srv.URL+echo, proto)
				s := c.CallBidiStream(ctx)
				for k, v := range withToken(as.Token(map[string]any{"jti": jti})) {
					s.RequestHeader()[k] = v
				}
				if err := s.Send(wrapperspb.String("hello")); err != nil {
					t.Fatal(err)
				}
				if m, err := s.Receive(); err != nil || m.GetValue() != "hello" {
					t.Fatalf("echo: %v %v", m, err)
				}
				go func() {
					time.Sleep(300 * time.Millisecond)
					admin.RevokeToken(context.Background(), jti, time.Now().Add(time.Hour))
				}()
				start := time.Now()
				_, err := s.Receive()
				took := time.Since(start)
				wantEnded(t, err, "The access token was revoked")
				if took > 2500*time.Millisecond {
					t.Fatalf("ended %v after the first message", took)
				}
				s.CloseRequest()
				s.CloseResponse()
			})
			t.Run("client stream, revoked", func(t *testing.T) {
				srv, client := serve(t, connectauth.Middleware(replica(0))(streamingMux(false)), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				jti := "upload-" + name
				s := connect.NewClient[str, str](client, srv.URL+upload, proto).CallClientStream(ctx)
				for k, v := range withToken(as.Token(map[string]any{"jti": jti})) {
					s.RequestHeader()[k] = v
				}
				go func() {
					time.Sleep(300 * time.Millisecond)
					admin.RevokeToken(context.Background(), jti, time.Now().Add(time.Hour))
				}()
				for i := 0; i < 200; i++ { // at most 4 s of sending
					if s.Send(wrapperspb.String("part")) != nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				_, err := s.CloseAndReceive()
				wantEnded(t, err, "The access token was revoked")
			})
			t.Run("opted out", func(t *testing.T) {
				srv, client := serve(t, connectauth.Middleware(replica(300*time.Millisecond), connectauth.WithoutStreamGuard())(streamingMux(false)), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
				defer cancel()
				req := connect.NewRequest(wrapperspb.String("x"))
				req.Header().Set("Authorization", "Bearer "+as.Token(map[string]any{"exp": exp.Unix()}))
				s, err := connect.NewClient[str, str](client, srv.URL+ticks, proto).CallServerStream(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for s.Receive() {
					n++
				}
				if connect.CodeOf(s.Err()) == connect.CodeUnauthenticated || n < 30 {
					t.Fatalf("opted out: %d messages, %v", n, s.Err())
				}
			})
		})
	}
}
