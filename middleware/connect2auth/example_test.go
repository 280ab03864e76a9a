package connect2auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connect2auth"
)

func ExampleMiddleware() {
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()
	ctx := context.Background()
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	defer v.Close()

	spec := connect.Spec{StreamType: connect.StreamTypeUnary, Procedure: "/orders.v1.OrderService/GetOrder"}
	server := connect.NewServer()
	server.Register(connect.Method{Spec: spec, Handler: func(ctx context.Context, _ connect.Spec, s connect.ServerStream) error {
		var req wrapperspb.StringValue
		if err := s.Receive(&req); err != nil {
			return err
		}
		claims, _ := accesstoken.FromContext(ctx)
		return s.Send(wrapperspb.String("orders of " + claims.Subject))
	}})
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	srv := httptest.NewServer(connect2auth.Middleware(v,
		connect2auth.WithRealm("orders"),
		connect2auth.WithScopes("/orders.v1.OrderService/", "orders:read"),
	)(mux))
	defer srv.Close()

	client := connect.NewClient(connecthttp.NewTransport(srv.Client(), srv.URL))
	for _, scope := range []string{"orders:read", "profile"} {
		callCtx, info := connect.NewClientContext(ctx)
		info.RequestHeader().Set("Authorization", "Bearer "+as.Token(map[string]any{"sub": "alice", "scope": scope}))
		var res wrapperspb.StringValue
		if err := client.CallUnary(callCtx, spec, wrapperspb.String(""), &res); err != nil {
			var ce *connect.Error
			errors.As(err, &ce)
			fmt.Println(ce.Code(), info.ResponseHeader().Get("WWW-Authenticate"))
			continue
		}
		fmt.Println(res.GetValue())
	}
	// Output:
	// orders of alice
	// permission_denied Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"
}
