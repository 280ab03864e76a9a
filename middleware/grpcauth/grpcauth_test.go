package grpcauth_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/grpcauth"
)

const (
	checkMethod = "/grpc.health.v1.Health/Check"
	watchMethod = "/grpc.health.v1.Health/Watch"
)

// health is a Health service whose handlers report the caller's subject in
// the "x-subject" response header, so tests see what the handler saw.
type health struct {
	healthpb.UnimplementedHealthServer
}

func subjectHeader(ctx context.Context) metadata.MD {
	c, ok := accesstoken.FromContext(ctx)
	if !ok {
		return metadata.Pairs("x-subject", "(anonymous)")
	}
	return metadata.Pairs("x-subject", c.Subject)
}

func (health) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	grpc.SetHeader(ctx, subjectHeader(ctx))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (health) Watch(_ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	s.SetHeader(subjectHeader(s.Context()))
	return s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

// serve starts a gRPC server on loopback and returns a client for it.
func serve(t *testing.T, opts ...grpc.ServerOption) healthpb.HealthClient {
	t.Helper()
	client, _ := serveAt(t, opts...)
	return client
}

// serveAt is serve that also returns the server's address.
func serveAt(t *testing.T, opts ...grpc.ServerOption) (healthpb.HealthClient, string) {
	t.Helper()
	return serveTLS(t, nil, opts...)
}

// serveTLS is serveAt over TLS when tc is not nil.
func serveTLS(t *testing.T, tc *conformance.TLS, opts ...grpc.ServerOption) (healthpb.HealthClient, string) {
	t.Helper()
	clientCreds := insecure.NewCredentials()
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc.Server.Clone())))
		clientCreds = credentials.NewTLS(tc.Client.Clone())
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(clientCreds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn), lis.Addr().String()
}

func withToken(token string, twice bool) context.Context {
	return withCall(conformance.Case{Token: token, Twice: twice}, "", "")
}

// withCall sends a case's token (under its scheme) and, when it has one, a
// DPoP proof for the full method at addr.
func withCall(c conformance.Case, addr, method string) context.Context {
	ctx := context.Background()
	scheme := "http://"
	if c.TLS != nil {
		scheme = "https://"
	}
	if kv := c.Metadata(); len(kv) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	}
	if c.Proof != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, "dpop", c.Proof("POST", scheme+addr+method))
	}
	return ctx
}

type outcome struct {
	code      codes.Code
	msg       string
	challenge string
	subject   string
	nonce     string
}

func callUnary(t *testing.T, client healthpb.HealthClient, ctx context.Context) outcome {
	var header metadata.MD
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	st := status.Convert(err)
	return outcome{st.Code(), st.Message(), first(header, "www-authenticate"), first(header, "x-subject"), first(header, "dpop-nonce")}
}

func callStream(t *testing.T, client healthpb.HealthClient, ctx context.Context) outcome {
	s, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		st := status.Convert(err)
		return outcome{code: st.Code(), msg: st.Message()}
	}
	_, err = s.Recv()
	header, _ := s.Header()
	if err == io.EOF {
		err = nil
	}
	st := status.Convert(err)
	return outcome{st.Code(), st.Message(), first(header, "www-authenticate"), first(header, "x-subject"), first(header, "dpop-nonce")}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestConformance runs the table every adapter runs, unary and streaming,
// over a real loopback connection.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		opts := []grpcauth.Option{
			grpcauth.WithRealm(conformance.Realm),
			grpcauth.WithResourceMetadata(c.ResourceMetadata),
			grpcauth.WithScopes(checkMethod, conformance.Scope),
			grpcauth.WithScopes(watchMethod, conformance.Scope),
		}
		if c.Roles != nil {
			opts = append(opts, grpcauth.WithRoles(checkMethod, c.Roles...), grpcauth.WithRoles(watchMethod, c.Roles...))
		}
		if c.TokenHeader != "" {
			opts = append(opts, grpcauth.WithTokenHeader(c.TokenHeader))
		}
		if c.Authentication != nil {
			opts = append(opts, grpcauth.WithAuthentication(checkMethod, *c.Authentication), grpcauth.WithAuthentication(watchMethod, *c.Authentication))
		}
		client, addr := serveTLS(t, c.TLS,
			grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(c.Validator, opts...)),
			grpc.StreamInterceptor(grpcauth.StreamServerInterceptor(c.Validator, opts...)))
		calls := map[string]struct {
			method string
			call   func(*testing.T, healthpb.HealthClient, context.Context) outcome
		}{"unary": {checkMethod, callUnary}, "stream": {watchMethod, callStream}}
		for name, m := range calls {
			t.Run(c.Name+"/"+name, func(t *testing.T) {
				got := m.call(t, client, withCall(c, addr, m.method))
				if (got.nonce != "") != c.Nonce {
					t.Fatalf("dpop-nonce %q, want one: %v", got.nonce, c.Nonce)
				}
				if got.code.String() != c.GRPCCode {
					t.Fatalf("code %v (%q), want %s", got.code, got.msg, c.GRPCCode)
				}
				if got.challenge != c.Challenge {
					t.Fatalf("www-authenticate %q, want %q", got.challenge, c.Challenge)
				}
				if c.Sentinel == nil && got.subject != c.Subject {
					t.Fatalf("handler saw subject %q, want %q", got.subject, c.Subject)
				}
				if c.Token != "" && strings.Contains(got.msg, c.Token) {
					t.Fatal("status message carries the token")
				}
			})
		}
	}
}

func TestWithoutAuthentication(t *testing.T) {
	cases := conformance.Cases(t)
	v := cases[0].Validator
	client := serve(t,
		grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(v, grpcauth.WithoutAuthentication("/grpc.health.v1.Health/"))),
		grpc.StreamInterceptor(grpcauth.StreamServerInterceptor(v, grpcauth.WithoutAuthentication(watchMethod))))
	if got := callUnary(t, client, context.Background()); got.code != codes.OK || got.subject != "(anonymous)" {
		t.Errorf("unary: %+v", got)
	}
	if got := callStream(t, client, context.Background()); got.code != codes.OK || got.subject != "(anonymous)" {
		t.Errorf("stream: %+v", got)
	}
	// An exemption for another method does not cover this one.
	client = serve(t, grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(v, grpcauth.WithoutAuthentication("/grpc.health.v1.Health/List"))))
	if got := callUnary(t, client, context.Background()); got.code != codes.Unauthenticated {
		t.Errorf("unexempted method: %+v", got)
	}
}

// TestAuthFunc plugs AuthFunc into go-grpc-middleware's auth interceptors.
func TestAuthFunc(t *testing.T) {
	cases := conformance.Cases(t)
	valid, expired := cases[0], cases[3]
	fn := grpcauth.AuthFunc(valid.Validator, grpcauth.WithRealm(conformance.Realm), grpcauth.WithScopes(watchMethod, "admin"))
	client := serve(t,
		grpc.UnaryInterceptor(auth.UnaryServerInterceptor(fn)),
		grpc.StreamInterceptor(auth.StreamServerInterceptor(fn)))
	if got := callUnary(t, client, withToken(valid.Token, false)); got.code != codes.OK || got.subject != valid.Subject {
		t.Errorf("unary valid: %+v", got)
	}
	// WithScopes applies by grpc.Method: Watch needs "admin".
	if got := callStream(t, client, withToken(valid.Token, false)); got.code != codes.PermissionDenied {
		t.Errorf("stream without admin scope: %+v", got)
	}
	for name, call := range map[string]func(*testing.T, healthpb.HealthClient, context.Context) outcome{"unary": callUnary, "stream": callStream} {
		got := call(t, client, withToken(expired.Token, false))
		if got.code != codes.Unauthenticated || got.challenge != expired.Challenge {
			t.Errorf("%s expired: %+v", name, got)
		}
	}
}
