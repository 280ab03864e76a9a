package connectauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connectauth"
)

func ExampleMiddleware() {
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()
	ctx := context.Background()
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	defer v.Close()

	const procedure = "/orders.v1.OrderService/GetOrder"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure,
		func(ctx context.Context, _ *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			claims, _ := accesstoken.FromContext(ctx)
			return connect.NewResponse(wrapperspb.String("orders of " + claims.Subject)), nil
		}))
	srv := httptest.NewServer(connectauth.Middleware(v,
		connectauth.WithRealm("orders"),
		connectauth.WithScopes("/orders.v1.OrderService/", "orders:read"),
	)(mux))
	defer srv.Close()

	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
	for _, scope := range []string{"orders:read", "profile"} {
		req := connect.NewRequest(wrapperspb.String(""))
		req.Header().Set("Authorization", "Bearer "+as.Token(map[string]any{"sub": "alice", "scope": scope}))
		res, err := client.CallUnary(ctx, req)
		if err != nil {
			fmt.Println(connect.CodeOf(err), err.(*connect.Error).Meta().Get("WWW-Authenticate"))
			continue
		}
		fmt.Println(res.Msg.GetValue())
	}
	// Output:
	// orders of alice
	// permission_denied Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"
}
