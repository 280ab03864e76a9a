// Command grpc shows grpcauth on a real gRPC server on loopback: the
// standard health service, with Check (unary) and Watch (streaming) behind
// the interceptors, called with good and bad tokens.
//
//	go run ./examples/grpc
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/grpcauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		return err
	}
	defer v.Close()

	opts := []grpcauth.Option{
		grpcauth.WithRealm("health"),
		grpcauth.WithScopes("/grpc.health.v1.Health/Check", "health:read"),
		grpcauth.WithScopes("/grpc.health.v1.Health/Watch", "health:read"),
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v, opts...)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v, opts...)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	cases := []struct{ name, token string }{
		{"valid token", as.Token(map[string]any{"scope": "health:read"})},
		{"expired token", as.Token(map[string]any{"scope": "health:read"}, accesstokentest.WithExpiry(-time.Minute))},
		{"missing scope", as.Token(map[string]any{"scope": "profile"})},
		{"missing token", ""},
	}
	for _, c := range cases {
		callCtx := ctx
		if c.token != "" {
			callCtx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
		}
		var header metadata.MD
		resp, err := client.Check(callCtx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		report(out, "Check", c.name, resp.GetStatus().String(), err, header)

		stream, err := client.Watch(callCtx, &healthpb.HealthCheckRequest{})
		if err == nil {
			var r *healthpb.HealthCheckResponse
			r, err = stream.Recv()
			header, _ = stream.Header()
			resp = r
		}
		report(out, "Watch", c.name, resp.GetStatus().String(), err, header)
	}
	return nil
}

func report(out io.Writer, method, name, result string, err error, header metadata.MD) {
	st := status.Convert(err)
	fmt.Fprintf(out, "%-5s %-14s -> %s", method, name, st.Code())
	if err == nil {
		fmt.Fprintf(out, " (%s)\n", result)
		return
	}
	fmt.Fprintf(out, " %q\n", st.Message())
	if ch := header.Get("www-authenticate"); len(ch) > 0 {
		fmt.Fprintf(out, "%-23s www-authenticate: %s\n", "", ch[0])
	}
}
