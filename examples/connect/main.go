// Command connect shows connectauth on a Connect service (connect-go v1)
// answering connect-go's clients in the Connect, gRPC and gRPC-Web
// protocols: a unary and a server-streaming procedure protected by
// service-wide and per-procedure scopes, a health check without
// authentication, and a DPoP-bound token with its proof.
//
//	go run ./examples/connect
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connectauth"
)

// The service, without generated code: connect-go's generic handlers over
// the protobuf well-known StringValue.
const (
	service  = "/orders.v1.OrderService/"
	getOrder = service + "GetOrder"
	watch    = service + "WatchOrders"
	health   = "/grpc.health.v1.Health/Check"
)

type str = wrapperspb.StringValue

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()},
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256"}}})
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.Refresh(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	who := func(ctx context.Context) string {
		c, _ := accesstoken.FromContext(ctx)
		return c.Subject
	}
	mux.Handle(getOrder, connect.NewUnaryHandler(getOrder, func(ctx context.Context, req *connect.Request[str]) (*connect.Response[str], error) {
		return connect.NewResponse(wrapperspb.String("order " + req.Msg.GetValue() + " for " + who(ctx))), nil
	}))
	mux.Handle(watch, connect.NewServerStreamHandler(watch, func(ctx context.Context, req *connect.Request[str], s *connect.ServerStream[str]) error {
		for _, state := range []string{"packed", "shipped"} {
			if err := s.Send(wrapperspb.String(state)); err != nil {
				return err
			}
		}
		return nil
	}))
	mux.Handle(health, connect.NewUnaryHandler(health, func(context.Context, *connect.Request[str]) (*connect.Response[str], error) {
		return connect.NewResponse(wrapperspb.String("SERVING")), nil
	}))
	handler := connectauth.Middleware(v,
		connectauth.WithRealm("orders-api"),
		connectauth.WithScopes(service, "orders:read"),
		connectauth.WithScopes(watch, "orders:watch"),
		connectauth.WithoutAuthentication("/grpc.health.v1.Health/"),
	)(mux)

	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true // gRPC needs HTTP/2
	srv.StartTLS()
	defer srv.Close()

	reader := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	watcher := as.Token(map[string]any{"sub": "alice", "scope": "orders:read orders:watch"})
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora", "scope": "orders:read"}, accesstokentest.WithDPoPKey(key))

	protocols := map[string]connect.ClientOption{"connect": connect.WithProtoJSON(), "grpc": connect.WithGRPC(), "grpc-web": connect.WithGRPCWeb()}
	names := make([]string, 0, len(protocols))
	for n := range protocols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		proto := protocols[name]
		fmt.Fprintf(out, "== %s\n", name)
		unary := func(label, procedure string, header http.Header) {
			c := connect.NewClient[str, str](srv.Client(), srv.URL+procedure, proto)
			req := connect.NewRequest(wrapperspb.String("7"))
			for k, vs := range header {
				req.Header()[k] = vs
			}
			res, err := c.CallUnary(ctx, req)
			report(out, label, res, err)
		}
		unary("health, no token", health, nil)
		unary("order, no token", getOrder, nil)
		unary("order, reader", getOrder, http.Header{"Authorization": {"Bearer " + reader}})
		unary("order, DPoP", getOrder, http.Header{"Authorization": {"DPoP " + bound},
			"Dpop": {key.Proof("POST", srv.URL+getOrder, accesstokentest.WithAccessToken(bound))}})

		stream := func(label, token string) {
			c := connect.NewClient[str, str](srv.Client(), srv.URL+watch, proto)
			req := connect.NewRequest(wrapperspb.String("7"))
			req.Header().Set("Authorization", "Bearer "+token)
			s, err := c.CallServerStream(ctx, req)
			if err != nil {
				report[str](out, label, nil, err)
				return
			}
			defer s.Close()
			var got []string
			for s.Receive() {
				got = append(got, s.Msg().GetValue())
			}
			if err := s.Err(); err != nil {
				report[str](out, label, nil, err)
				return
			}
			fmt.Fprintf(out, "%-18s -> ok: %v\n", label, got)
		}
		stream("watch, reader", reader)
		stream("watch, watcher", watcher)
	}
	return nil
}

func report[T any](out io.Writer, label string, res *connect.Response[T], err error) {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(out, "%-18s -> %s: %s\n%20s WWW-Authenticate: %s\n", label, ce.Code(), ce.Message(), "", ce.Meta().Get("WWW-Authenticate"))
	case err != nil:
		fmt.Fprintf(out, "%-18s -> %v\n", label, err)
	default:
		fmt.Fprintf(out, "%-18s -> ok: %v\n", label, any(res.Msg).(*str).GetValue())
	}
}
