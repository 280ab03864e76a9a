package grpcauth_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/grpcauth"
)

// ticking is a Health service whose Watch sends a status every 20 ms.
// ignoreCtx makes it a careless handler: it never looks at its context and
// returns nil when Send fails.
type ticking struct {
	healthpb.UnimplementedHealthServer
	ignoreCtx bool
}

func (h ticking) Watch(_ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			if h.ignoreCtx {
				return nil
			}
			return err
		}
		if h.ignoreCtx {
			<-tick.C
			continue
		}
		select {
		case <-s.Context().Done():
			return s.Context().Err()
		case <-tick.C:
		}
	}
}

func serveTicking(t *testing.T, h ticking, v accesstoken.TokenValidator, opts ...grpcauth.Option) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StreamInterceptor(grpcauth.StreamServerInterceptor(v, opts...)))
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// watchUntilEnd reads a Watch stream until it ends and returns its status,
// its www-authenticate trailer, how many messages came and when it ended.
func watchUntilEnd(t *testing.T, client healthpb.HealthClient, token string, limit time.Duration) (*status.Status, string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token), limit)
	defer cancel()
	start := time.Now()
	s, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := s.Recv()
		if err == nil {
			n++
			continue
		}
		if err == io.EOF {
			t.Fatal("the stream ended without an error")
		}
		challenges := s.Trailer().Get("www-authenticate")
		if len(challenges) > 1 {
			t.Fatalf("%d challenges in the trailer", len(challenges))
		}
		challenge := ""
		if len(challenges) == 1 {
			challenge = challenges[0]
		}
		return status.Convert(err), challenge, n, time.Since(start)
	}
}

func TestStreamGuard(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	store := accesstoken.NewMemoryStore()
	replica := func(offset time.Duration) *accesstoken.Validator {
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
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	// late is a replica whose clock puts the token 600 ms from its expiry.
	late := func() *accesstoken.Validator { return replica(time.Until(exp.Add(-600 * time.Millisecond))) }
	v := replica(0)
	admin := accesstoken.NewRevocations(store)

	t.Run("expiry", func(t *testing.T) {
		client := serveTicking(t, ticking{}, late(), grpcauth.WithRealm("health"))
		st, challenge, n, took := watchUntilEnd(t, client, as.Token(map[string]any{"exp": exp.Unix()}), 5*time.Second)
		if st.Code() != codes.Unauthenticated || st.Message() != "The access token expired" || n == 0 {
			t.Fatalf("status %v, %d messages", st, n)
		}
		if challenge != `Bearer realm="health", error="invalid_token", error_description="The access token expired"` {
			t.Errorf("trailer challenge %q", challenge)
		}
		if took < 500*time.Millisecond || took > 2*time.Second {
			t.Errorf("ended after %v, want about 600 ms", took)
		}
	})
	t.Run("revoked on another replica", func(t *testing.T) {
		client := serveTicking(t, ticking{}, v)
		token := as.Token(map[string]any{"jti": "stream-1"})
		go func() {
			time.Sleep(500 * time.Millisecond)
			admin.RevokeToken(context.Background(), "stream-1", time.Now().Add(time.Hour))
		}()
		st, _, n, took := watchUntilEnd(t, client, token, 5*time.Second)
		if st.Code() != codes.Unauthenticated || st.Message() != "The access token was revoked" || n == 0 {
			t.Fatalf("status %v, %d messages", st, n)
		}
		t.Logf("ended %v after the stream started (revoked at 500 ms)", took.Round(time.Millisecond))
		if took > 2500*time.Millisecond {
			t.Errorf("ended %v after start", took)
		}
	})
	t.Run("careless handler", func(t *testing.T) {
		client := serveTicking(t, ticking{ignoreCtx: true}, late())
		st, _, n, _ := watchUntilEnd(t, client, as.Token(map[string]any{"exp": exp.Unix()}), 5*time.Second)
		if st.Code() != codes.Unauthenticated || st.Message() != "The access token expired" || n == 0 {
			t.Fatalf("a handler returning nil: status %v", st)
		}
	})
	t.Run("without the guard", func(t *testing.T) {
		client := serveTicking(t, ticking{}, late(), grpcauth.WithoutStreamGuard())
		st, _, n, took := watchUntilEnd(t, client, as.Token(map[string]any{"exp": exp.Unix()}), 1500*time.Millisecond)
		if st.Code() != codes.DeadlineExceeded || took < 1400*time.Millisecond || n < 30 {
			t.Fatalf("opted-out stream: %v after %v, %d messages", st, took, n)
		}
	})
}

// BenchmarkStreamStart: a server-streaming call (one message) through the
// interceptor, guarded and not, with a revocation list: the guard's cost
// on a stream start.
func BenchmarkStreamStart(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Revocations: accesstoken.NewRevocations(accesstoken.NewMemoryStore()),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	token := as.Token(map[string]any{"sub": "ann", "jti": "j-1"}, accesstokentest.WithAlgorithm("ES256"))
	for _, bc := range []struct {
		name string
		opts []grpcauth.Option
	}{{"unguarded", []grpcauth.Option{grpcauth.WithoutStreamGuard()}}, {"guarded", nil}} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := grpc.NewServer(grpc.StreamInterceptor(grpcauth.StreamServerInterceptor(v, bc.opts...)))
		healthpb.RegisterHealthServer(srv, health{})
		go srv.Serve(lis)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		client := healthpb.NewHealthClient(conn)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(); err != io.EOF {
					b.Fatal(err)
				}
			}
		})
		conn.Close()
		srv.Stop()
	}
}
