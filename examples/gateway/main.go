// Command gateway shows identity propagation through an API gateway, all on
// loopback: an authorization server (the test kit), a Go gateway that
// validates tokens and forwards the verified identity, an HTTP orders
// service behind it that authorizes by the forwarded role, and a gRPC
// inventory service the orders service calls with the caller's token, which
// validates it again (zero trust) and authorizes by role. It prints each
// request's path through the system and what each service saw, including a
// spoofed identity header that the gateway drops.
//
//	go run ./examples/gateway
package main

import (
	"context"
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
	"sync"

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
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// checkStock is the inventory service's method (the standard health
// service stands in for an inventory API).
const checkStock = "/grpc.health.v1.Health/Check"

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	// One validator per service in production; one here. Roles come from
	// the "roles" claim (Config.RoleClaims' default includes it).
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		return err
	}
	defer v.Close()
	// What the services saw, written from their goroutines.
	var mu sync.Mutex
	var trace []string
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		trace = append(trace, fmt.Sprintf(format, args...))
	}
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := trace
		trace = nil
		return out
	}

	// The inventory service: gRPC, validates the token itself, needs the
	// "stock-reader" role.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	inventory := grpc.NewServer(grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(v, grpcauth.WithRoles(checkStock, "stock-reader"))))
	healthpb.RegisterHealthServer(inventory, health.NewServer())
	go inventory.Serve(lis)
	defer inventory.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			say("  inventory (gRPC) saw the caller's token: %s", status.Code(err))
			return err
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	stock := healthpb.NewHealthClient(conn)

	// The orders service: reachable only from the gateway, so it trusts the
	// X-Auth-* headers; it needs the "clerk" role and asks inventory,
	// passing the caller's token on.
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		roles := strings.Fields(r.Header.Get(httpauth.HeaderRoles))
		say("  orders (HTTP) saw X-Auth-Subject=%q X-Auth-Roles=%q", r.Header.Get(httpauth.HeaderSubject), r.Header.Get(httpauth.HeaderRoles))
		if !contains(roles, "clerk") {
			http.Error(w, "orders: the clerk role is needed", http.StatusForbidden)
			return
		}
		callCtx := metadata.AppendToOutgoingContext(r.Context(), "authorization", r.Header.Get("Authorization"))
		if _, err := stock.Check(callCtx, &healthpb.HealthCheckRequest{}); err != nil {
			http.Error(w, "orders: inventory refused: "+status.Code(err).String(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "order placed for %s", r.Header.Get(httpauth.HeaderSubject))
	}))
	defer orders.Close()

	// The gateway: validates every request, drops any identity header the
	// client sent, and forwards the verified one.
	target, _ := url.Parse(orders.URL)
	gateway := httptest.NewServer(httpauth.Middleware(v, httpauth.WithRealm("shop"))(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			httpauth.ForwardIdentity(pr.Out)
		}}))
	defer gateway.Close()

	requests := []struct {
		who   string
		token string
		spoof string
	}{
		{"alice (clerk, stock-reader)", as.Token(map[string]any{"sub": "alice", "roles": []string{"clerk", "stock-reader"}}), ""},
		{"bob (clerk)", as.Token(map[string]any{"sub": "bob", "roles": []string{"clerk"}}), ""},
		{"carol (no role) spoofing X-Auth-Roles: clerk", as.Token(map[string]any{"sub": "carol"}), "clerk stock-reader"},
		{"someone without a token", "", ""},
	}
	for _, r := range requests {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gateway.URL+"/orders", nil)
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		if r.spoof != "" {
			req.Header.Set(httpauth.HeaderRoles, r.spoof)
			req.Header.Set(httpauth.HeaderSubject, "admin")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%s -> gateway\n", r.who)
		lines := seen()
		if len(lines) == 0 {
			fmt.Fprintf(out, "  gateway answered itself: %s\n", resp.Header.Get("WWW-Authenticate"))
		}
		for _, line := range lines {
			fmt.Fprintln(out, line)
		}
		fmt.Fprintf(out, "  <- %d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
