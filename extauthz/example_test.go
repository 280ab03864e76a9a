package extauthz_test

import (
	"context"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/extauthz"
)

func ExampleNewServer() {
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	defer v.Close()

	// Register it on a grpc.Server: authv3.RegisterAuthorizationServer(grpcServer, authz).
	authz := extauthz.NewServer(v, extauthz.WithRealm("orders"), extauthz.WithRequiredScopes("orders:read"))

	check := func(token string) {
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/orders",
				Headers: map[string]string{"authorization": "Bearer " + token, "x-auth-subject": "admin"}}}}}
		resp, _ := authz.Check(context.Background(), req)
		if ok := resp.GetOkResponse(); ok != nil {
			for _, h := range ok.GetHeaders() {
				if h.GetHeader().GetKey() == "X-Auth-Subject" {
					fmt.Println("allowed; backend sees X-Auth-Subject:", h.GetHeader().GetValue())
				}
			}
			return
		}
		d := resp.GetDeniedResponse()
		fmt.Println("denied:", d.GetStatus().GetCode(), d.GetHeaders()[1].GetHeader().GetValue())
	}
	check(as.Token(map[string]any{"sub": "alice", "scope": "orders:read"}))
	check(as.Token(map[string]any{"sub": "alice", "scope": "profile"}))
	// Output:
	// allowed; backend sees X-Auth-Subject: alice
	// denied: Forbidden Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"
}
