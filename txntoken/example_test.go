package txntoken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/txntoken"
)

// A gateway mints a Transaction Token for a caller whose access token it
// validated; a service of the trust domain verifies it with the gateway's
// JWK Set and reads who and what the transaction is for.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	gateway, err := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: "orders.internal", Workload: "edge"})
	if err != nil {
		log.Fatal(err)
	}
	jwks := httptest.NewServer(gateway) // the gateway's /.well-known/jwks.json
	defer jwks.Close()

	caller := &accesstoken.Claims{Subject: "alice", ClientID: "web-app", Scopes: []string{"orders:read"}}
	tok, err := gateway.Mint(context.Background(), txntoken.Request{Claims: caller,
		Context: txntoken.RequestContext{IP: "203.0.113.7", Method: "GET", Path: "/orders/42"}})
	if err != nil {
		log.Fatal(err)
	}

	cfg := txntoken.Config("", "orders.internal") // in each service
	cfg.JWKSURL = jwks.URL
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	c, err := v.Validate(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := txntoken.Decode(c)
	fmt.Println(c.Subject, x.Scope, x.RequestingWorkload, x.RequestContext.Path, x.TransactionContext["client_id"])
	// Output: alice orders:read edge /orders/42 web-app
}
