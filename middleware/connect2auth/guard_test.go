package connect2auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connect2auth"
)

var (
	ticksSpec = connect.Spec{StreamType: connect.StreamTypeServer, Procedure: service + "Ticks"}
	echoSpec  = connect.Spec{StreamType: connect.StreamTypeBidi, Procedure: service + "Echo"}
)

// streamingMux: Ticks sends every 20 ms until its context ends; Echo
// answers each message and blocks in Receive between them.
func streamingMux() *http.ServeMux {
	server := connect.NewServer()
	server.Register(
		connect.Method{Spec: ticksSpec, Handler: func(ctx context.Context, _ connect.Spec, s connect.ServerStream) error {
			var req wrapperspb.StringValue
			if err := s.Receive(&req); err != nil {
				return err
			}
			for {
				if err := s.Send(wrapperspb.String("tick")); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		}},
		connect.Method{Spec: echoSpec, Handler: func(ctx context.Context, _ connect.Spec, s connect.ServerStream) error {
			for {
				var m wrapperspb.StringValue
				if err := s.Receive(&m); err != nil {
					return err
				}
				if err := s.Send(&m); err != nil {
					return err
				}
			}
		}},
	)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	return mux
}

func wantEnded(t *testing.T, err error, trailer *connect.Header, proto, reason string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || ce.Message() != reason {
		t.Fatalf("error %v, want Unauthenticated %q", err, reason)
	}
	if proto == "grpc" {
		return // HTTP/2 trailers may not carry WWW-Authenticate
	}
	if ch := trailer.Get("Www-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, reason) {
		t.Errorf("challenge %q", ch)
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
	for name, proto := range protocols {
		t.Run(name, func(t *testing.T) {
			// ticks reads a Ticks stream to its end: the messages, the
			// trailer, how long it took and the error it ended with.
			ticks := func(t *testing.T, v *accesstoken.Validator, opts []connect2auth.Option, limit time.Duration) (int, *connect.Header, time.Duration, error) {
				srv, client := serve(t, connect2auth.Middleware(v, opts...)(streamingMux()), nil)
				ctx, cancel := context.WithTimeout(context.Background(), limit)
				defer cancel()
				ctx, info := connect.NewClientContext(ctx)
				info.RequestHeader().Set("Authorization", "Bearer "+as.Token(map[string]any{"exp": exp.Unix()}))
				start := time.Now()
				s, err := connect.NewClient(connecthttp.NewTransport(client, srv.URL, proto...)).CallServerStream(ctx, ticksSpec, wrapperspb.String("x"))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				n := 0
				for {
					var m wrapperspb.StringValue
					if err := s.Receive(&m); err != nil {
						return n, info.ResponseTrailer(), time.Since(start), err
					}
					n++
				}
			}
			t.Run("server stream, expiry", func(t *testing.T) {
				n, trailer, took, err := ticks(t, replica(600*time.Millisecond), nil, 5*time.Second)
				wantEnded(t, err, trailer, name, "The access token expired")
				if n == 0 || took < 500*time.Millisecond || took > 2*time.Second {
					t.Fatalf("%d messages, ended after %v", n, took)
				}
			})
			t.Run("opted out", func(t *testing.T) {
				n, _, _, err := ticks(t, replica(300*time.Millisecond), []connect2auth.Option{connect2auth.WithoutStreamGuard()}, 1200*time.Millisecond)
				if connect.CodeOf(err) == connect.CodeUnauthenticated || errors.Is(err, io.EOF) || n < 30 {
					t.Fatalf("opted out: %d messages, %v", n, err)
				}
			})
			t.Run("bidi, blocked in Receive, revoked on another replica", func(t *testing.T) {
				srv, client := serve(t, connect2auth.Middleware(replica(0))(streamingMux()), nil)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ctx, info := connect.NewClientContext(ctx)
				jti := "bidi-" + name
				info.RequestHeader().Set("Authorization", "Bearer "+as.Token(map[string]any{"jti": jti}))
				s, err := connect.NewClient(connecthttp.NewTransport(client, srv.URL, proto...)).CallClientStream(ctx, echoSpec)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				var m wrapperspb.StringValue
				if err := s.Send(wrapperspb.String("hello")); err != nil {
					t.Fatal(err)
				}
				if err := s.Receive(&m); err != nil || m.GetValue() != "hello" {
					t.Fatalf("echo: %v %v", m.GetValue(), err)
				}
				go func() {
					time.Sleep(300 * time.Millisecond)
					admin.RevokeToken(context.Background(), jti, time.Now().Add(time.Hour))
				}()
				start := time.Now()
				err = s.Receive(&m)
				wantEnded(t, err, info.ResponseTrailer(), name, "The access token was revoked")
				if took := time.Since(start); took > 2500*time.Millisecond {
					t.Fatalf("ended %v after the first message", took)
				}
			})
		})
	}
}
