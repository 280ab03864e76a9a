// Command txntoken shows identity propagation with Transaction Tokens, all
// on loopback: an authorization server (the test kit); a Go gateway that
// validates the caller's access token and mints a Transaction Token for the
// services behind it (httpauth.WithTransactionToken); an HTTP orders
// service that verifies it (httpauth.WithTokenHeader) and passes it, as it
// received it, to a gRPC inventory service that verifies it too
// (grpcauth.WithTokenHeader). Both see the same subject, scope and
// transaction, whatever headers the caller sends; a Txn-Token sent to a
// service past the gateway is refused.
//
//	go run ./examples/txntoken
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/grpcauth"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/txntoken"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

const trustDomain = "shop.internal"

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()

	// The gateway: validates access tokens, mints Transaction Tokens, serves
	// their key set.
	edge, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		return err
	}
	defer edge.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: trustDomain, Workload: "edge-gateway"})
	if err != nil {
		return err
	}
	keys := httptest.NewServer(signer) // the gateway's /.well-known/jwks.json
	defer keys.Close()

	// Every service: a validator of the trust domain's Transaction Tokens.
	cfg := txntoken.Config("", trustDomain)
	cfg.JWKSURL = keys.URL
	services, err := accesstoken.NewValidator(ctx, cfg)
	if err != nil {
		return err
	}
	defer services.Close()
	describe := func(c *accesstoken.Claims) string {
		x, _ := txntoken.Decode(c)
		return fmt.Sprintf("sub=%s scope=%q txn=%s…", c.Subject, x.Scope, x.Txn[:8])
	}

	// The gRPC inventory service.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := health.NewServer()
	seen := make(chan string, 1)
	gs := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return grpcauth.UnaryServerInterceptor(services, grpcauth.WithTokenHeader(txntoken.Header))(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			c, _ := accesstoken.FromContext(ctx)
			seen <- describe(c)
			return h(ctx, req)
		})
	}))
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	inventory := healthpb.NewHealthClient(conn)

	// The HTTP orders service: verifies the Transaction Token, and passes it
	// on unchanged (draft §8.2) to the inventory service.
	orders := httptest.NewServer(httpauth.Middleware(services, httpauth.WithTokenHeader(txntoken.Header))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := accesstoken.FromContext(r.Context())
		fmt.Fprintf(out, "  orders (HTTP) saw %s\n", describe(c))
		call := metadata.AppendToOutgoingContext(r.Context(), "txn-token", r.Header.Get(txntoken.Header))
		if _, err := inventory.Check(call, &healthpb.HealthCheckRequest{}); err != nil {
			fmt.Fprintf(out, "  inventory (gRPC) refused: %s\n", status.Code(err))
			http.Error(w, "inventory refused", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(out, "  inventory (gRPC) saw %s\n", <-seen)
		fmt.Fprintf(w, "order placed for %s", c.Subject)
	})))
	defer orders.Close()

	target, _ := url.Parse(orders.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		httpauth.ForwardIdentity(pr.Out) // the minted Txn-Token, and no client-sent one
	}}
	gateway := httptest.NewServer(httpauth.Middleware(edge, httpauth.WithTransactionToken(signer))(proxy))
	defer gateway.Close()

	send := func(who, base string, header map[string]string) {
		fmt.Fprintf(out, "%s\n", who)
		req, _ := http.NewRequest("POST", base+"/orders", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintf(out, "  error: %v\n", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "  <- %d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	alice := as.Token(map[string]any{"sub": "alice", "scope": "orders:write"})
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fake, _ := txntoken.NewSigner(txntoken.SignerConfig{Key: forger, KeyID: signer.KeyID(), TrustDomain: trustDomain})
	forged, _ := fake.Mint(ctx, txntoken.Request{Claims: &accesstoken.Claims{Subject: "admin", Scopes: []string{"orders:write"}}})

	send("alice -> gateway (with a forged Txn-Token and X-Auth-Subject: admin)", gateway.URL,
		map[string]string{"Authorization": "Bearer " + alice, "Txn-Token": forged, "X-Auth-Subject": "admin"})
	send("someone -> orders service directly, with a forged Txn-Token", orders.URL, map[string]string{"Txn-Token": forged})
	send("someone -> orders service directly, with alice's access token", orders.URL, map[string]string{"Authorization": "Bearer " + alice})
	return nil
}
