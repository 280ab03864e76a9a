package extauthz_test

import (
	"context"
	"encoding/pem"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/extauthz"
)

// start serves srv over gRPC on loopback and returns a grpc-go client.
func start(t *testing.T, srv authv3.AuthorizationServer) authv3.AuthorizationClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// envoy is a CheckRequest as Envoy's ext_authz filter sends it: lower-case
// header names with the pseudo-headers, repeated fields joined by ",",
// the path with its query.
func envoy(method, scheme, host, path string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{":authority": host, ":method": method, ":path": path, ":scheme": scheme,
		"user-agent": "curl/8.5.0", "x-forwarded-proto": scheme, "x-request-id": "5f4dcc3b-5aa7-4a2e-9f3c-1b2d3e4f5a6b"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "203.0.113.9", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}}}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.5", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8443}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "13372928384638247", Method: method, Headers: h, Path: path, Host: host, Scheme: scheme, Protocol: "HTTP/1.1",
		}},
	}}
}

type decision struct {
	Code      int32
	Status    int32 // HTTP status of a denial; 0 for OK
	Challenge string
	Set       map[string]string
	Removed   []string
}

func decide(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) (decision, *authv3.CheckResponse) {
	t.Helper()
	resp, err := c.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check returned a gRPC error (failure_mode_allow would let the request through): %v", err)
	}
	d := decision{Code: resp.GetStatus().GetCode()}
	if ok := resp.GetOkResponse(); ok != nil {
		d.Set = map[string]string{}
		for _, h := range ok.GetHeaders() {
			if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				t.Fatalf("header %s with append action %v", h.GetHeader().GetKey(), h.GetAppendAction())
			}
			d.Set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		d.Removed = ok.GetHeadersToRemove()
		for _, name := range d.Removed {
			for k := range d.Set {
				if strings.EqualFold(k, name) {
					t.Fatalf("%s is both set and removed", name)
				}
			}
		}
	}
	if den := resp.GetDeniedResponse(); den != nil {
		d.Status = int32(den.GetStatus().GetCode())
		for _, h := range den.GetHeaders() {
			if h.GetHeader().GetKey() == "WWW-Authenticate" {
				d.Challenge = h.GetHeader().GetValue()
			}
		}
	}
	return d, resp
}

func identityCovered(t *testing.T, d decision) {
	t.Helper()
	for _, name := range []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scopes", "X-Auth-Roles", "X-Auth-Issuer"} {
		_, set := d.Set[name]
		removed := slices.Contains(d.Removed, strings.ToLower(name))
		if set == removed {
			t.Fatalf("%s: set %v, removed %v; want exactly one (set %v, removed %v)", name, set, removed, d.Set, d.Removed)
		}
	}
}

func TestCheck(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	down := accesstokentest.NewServer()
	tok := down.Token(nil)
	down.Close() // closed before the validator starts: its keys are never fetched, every token is unavailable
	downV, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: down.Issuer(), Audience: []string{down.Audience()}})
	defer downV.Close()

	c := start(t, extauthz.NewServer(v, extauthz.WithRealm("orders"), extauthz.WithRequiredScopes("orders:read"),
		extauthz.WithPathScopes("/admin", "orders:admin"), extauthz.WithClaimHeader("X-Tenant", "/tenant")))
	cu := start(t, extauthz.NewServer(downV, extauthz.WithRealm("orders")))
	good := as.Token(map[string]any{"sub": "alice", "scope": "orders:read", "tenant": "acme"})
	bearer := func(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }
	invalid := func(desc string) string {
		return `Bearer realm="orders", error="invalid_token", error_description="` + desc + `"`
	}
	tests := []struct {
		name   string
		client authv3.AuthorizationClient
		req    *authv3.CheckRequest
		want   decision
	}{
		{"valid", c, envoy("GET", "https", "api.example.com", "/orders?page=2", bearer(good)), decision{Code: 0,
			Set: map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "orders:read",
				"X-Auth-Issuer": as.Issuer(), "X-Tenant": "acme"}, Removed: []string{"x-auth-roles"}}},
		{"valid, no tenant claim", c, envoy("GET", "https", "api.example.com", "/orders", bearer(as.Token(map[string]any{"sub": "bob", "scope": "orders:read", "roles": []string{"a b", "c"}}))),
			decision{Code: 0, Set: map[string]string{"X-Auth-Subject": "bob", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "orders:read",
				"X-Auth-Roles": "a%20b c", "X-Auth-Issuer": as.Issuer()}, Removed: []string{"x-tenant"}}},
		{"no token", c, envoy("GET", "https", "api.example.com", "/orders", nil),
			decision{Code: 16, Status: 401, Challenge: `Bearer realm="orders", scope="orders:read"`}},
		{"expired", c, envoy("GET", "https", "api.example.com", "/orders", bearer(as.Token(map[string]any{"scope": "orders:read"}, accesstokentest.WithExpiry(-time.Minute)))),
			decision{Code: 16, Status: 401, Challenge: invalid("The access token expired") + `, scope="orders:read"`}},
		{"missing scope", c, envoy("GET", "https", "api.example.com", "/orders", bearer(as.Token(map[string]any{"scope": "profile"}))),
			decision{Code: 7, Status: 403, Challenge: `Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"`}},
		{"path scope", c, envoy("POST", "https", "api.example.com", "/admin/users?x", bearer(good)),
			decision{Code: 7, Status: 403, Challenge: `Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:admin"`}},
		{"path scope, dot segments", c, envoy("GET", "https", "api.example.com", "/orders/../admin/users", bearer(good)),
			decision{Code: 7, Status: 403, Challenge: `Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:admin"`}},
		{"path scope, encoded", c, envoy("GET", "https", "api.example.com", "/%61dmin", bearer(good)),
			decision{Code: 7, Status: 403, Challenge: `Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:admin"`}},
		{"path scope, double slash", c, envoy("GET", "https", "api.example.com", "//admin", bearer(good)),
			decision{Code: 7, Status: 403, Challenge: `Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:admin"`}},
		{"path scope, another path", c, envoy("GET", "https", "api.example.com", "/administrators", bearer(good)), decision{Code: 0,
			Set: map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "test-client", "X-Auth-Scopes": "orders:read",
				"X-Auth-Issuer": as.Issuer(), "X-Tenant": "acme"}, Removed: []string{"x-auth-roles"}}},
		{"two Authorization fields", c, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + good + ",Bearer " + good}),
			decision{Code: 3, Status: 400, Challenge: `Bearer realm="orders", error="invalid_request", error_description="The request is malformed"`}},
		{"malformed header", c, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer a b"}),
			decision{Code: 3, Status: 400, Challenge: `Bearer realm="orders", error="invalid_request", error_description="The request is malformed"`}},
		{"keys unavailable", cu, envoy("GET", "https", "api.example.com", "/orders", bearer(tok)), decision{Code: 14, Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resp := decide(t, tt.client, tt.req)
			if tt.want.Code == 0 {
				identityCovered(t, got)
				slices.Sort(got.Removed)
				if sub := resp.GetDynamicMetadata().GetFields()["sub"].GetStringValue(); sub != got.Set["X-Auth-Subject"] {
					t.Fatalf("dynamic_metadata sub %q", sub)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckDPoPAndCertificates(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c := start(t, extauthz.NewServer(v, extauthz.WithRealm("orders"), extauthz.WithTrustedCertificate()))
	plain := start(t, extauthz.NewServer(v, extauthz.WithRealm("orders")))

	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	dpop := func(proof string) map[string]string {
		return map[string]string{"authorization": "DPoP " + bound, "dpop": proof}
	}
	proof := key.Proof("GET", "https://api.example.com/orders", accesstokentest.WithAccessToken(bound))
	// The URL comes from the CheckRequest: scheme, host, path without query.
	if d, _ := decide(t, c, envoy("GET", "https", "api.example.com", "/orders?page=2", dpop(proof))); d.Code != 0 || d.Set["X-Auth-Subject"] != "dora" {
		t.Fatalf("DPoP: %+v", d)
	}
	if d, _ := decide(t, c, envoy("GET", "https", "api.example.com", "/orders", dpop(proof))); d.Status != 401 || !strings.Contains(d.Challenge, "invalid_dpop_proof") {
		t.Fatalf("replayed proof: %+v", d)
	}
	other := key.Proof("GET", "https://api.example.com/orders", accesstokentest.WithAccessToken(bound))
	if d, _ := decide(t, c, envoy("GET", "http", "api.example.com", "/orders", dpop(other))); d.Status != 401 || !strings.Contains(d.Challenge, "invalid_dpop_proof") {
		t.Fatalf("proof for https, request over http: %+v", d)
	}
	if d, _ := decide(t, c, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + bound})); d.Status != 401 {
		t.Fatalf("DPoP-bound token as bearer: %+v", d)
	}

	cert := accesstokentest.NewClientCertificate("svc-a")
	certBound := as.Token(map[string]any{"sub": "svc-a"}, accesstokentest.WithCertificate(cert.Leaf))
	req := envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + certBound})
	req.Attributes.Source.Certificate = url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})))
	if d, _ := decide(t, c, req); d.Code != 0 || d.Set["X-Auth-Subject"] != "svc-a" {
		t.Fatalf("certificate-bound with its certificate: %+v", d)
	}
	if d, _ := decide(t, plain, req); d.Status != 401 || !strings.Contains(d.Challenge, "bound to another client certificate") {
		t.Fatalf("certificate not trusted without WithTrustedCertificate: %+v", d)
	}
	req.Attributes.Source.Certificate = ""
	if d, _ := decide(t, c, req); d.Status != 401 {
		t.Fatalf("certificate-bound without a certificate: %+v", d)
	}
}

func TestCheckNonces(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256"}, Nonces: true}})
	defer v.Close()
	c := start(t, extauthz.NewServer(v))
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	req := envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "DPoP " + bound,
		"dpop": key.Proof("GET", "https://api.example.com/orders", accesstokentest.WithAccessToken(bound))})
	_, resp := decide(t, c, req)
	var nonce string
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "DPoP-Nonce" {
			nonce = h.GetHeader().GetValue()
		}
	}
	if nonce == "" || !strings.Contains(resp.GetStatus().GetMessage(), "nonce") {
		t.Fatalf("no nonce in the denial: %v", resp)
	}
	req.Attributes.Request.Http.Headers["dpop"] = key.Proof("GET", "https://api.example.com/orders", accesstokentest.WithAccessToken(bound), accesstokentest.WithNonce(nonce))
	d, resp := decide(t, c, req)
	if d.Code != 0 || len(resp.GetOkResponse().GetResponseHeadersToAdd()) != 1 {
		t.Fatalf("with the nonce: %+v %v", d, resp)
	}
}
