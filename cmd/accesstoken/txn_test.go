package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/tts"
	"github.com/tokenguard/accesstoken/txntoken"
)

func writeJWK(t *testing.T, path string, key any, kid string) {
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

// serve mints Transaction Tokens, signing them itself (the JWK Set served
// at /.well-known/jwks.json, outside ForwardAuth) or exchanging at a
// Transaction Token Service replica; a service verifies each, and a
// refused request gets none.
func TestServeTransactionTokens(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writeJWK(t, filepath.Join(dir, "txn.jwk"), key, "gw-2026")
	access := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})

	service := func(jwksURL string, client *http.Client) *accesstoken.Validator {
		cfg := txntoken.Config("", "orders.internal")
		cfg.JWKSURL, cfg.HTTPClient, cfg.StrictStart = jwksURL, client, true
		v, err := accesstoken.NewValidator(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		return v
	}
	check := func(t *testing.T, s *server, v *accesstoken.Validator) {
		code, h, _ := fetch(t, "http://"+s.http+"/orders/7", http.Header{"Authorization": {"Bearer " + access}, "Txn-Token": {"forged.by.client"}})
		if code != 200 {
			t.Fatalf("ForwardAuth: %d", code)
		}
		c, err := v.Validate(context.Background(), h.Get("Txn-Token"))
		if err != nil || c.Subject != "alice" {
			t.Fatalf("ForwardAuth's Txn-Token: %v %v", c, err)
		}
		if code, h, _ := fetch(t, "http://"+s.http+"/orders/7", http.Header{"Authorization": {"Bearer nope"}}); code != 401 || h.Get("Txn-Token") != "" {
			t.Fatalf("refused: %d %q", code, h.Get("Txn-Token"))
		}
		conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/orders",
				Headers: map[string]string{"authorization": "Bearer " + access, "txn-token": "forged"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		var minted string
		for _, h := range resp.GetOkResponse().GetHeaders() {
			if h.GetHeader().GetKey() == "Txn-Token" {
				minted = h.GetHeader().GetValue()
			}
		}
		if c, err := v.Validate(context.Background(), minted); err != nil || c.Subject != "alice" {
			t.Fatalf("ext_authz's Txn-Token: %v %v", c, err)
		}
	}

	t.Run("signed by serve", func(t *testing.T) {
		s := startServe(t, nil, "--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
			"--txn-token-audience", "orders.internal", "--txn-token-key", filepath.Join(dir, "txn.jwk"))
		code, _, body := fetch(t, "http://"+s.http+"/.well-known/jwks.json", nil)
		if code != 200 || !strings.Contains(body, `"kid":"gw-2026"`) || strings.Contains(body, `"d"`) {
			t.Fatalf("JWK Set: %d %s", code, body)
		}
		check(t, s, service("http://"+s.http+"/.well-known/jwks.json", nil))
	})
	t.Run("exchanged at a service", func(t *testing.T) {
		subjects, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
		if err != nil {
			t.Fatal(err)
		}
		defer subjects.Close()
		svc := tts.New(t, "orders.internal", "serve-gw", "tts-secret", subjects)
		writeFile(t, filepath.Join(dir, "tts.pem"), string(svc.CertificatePEM()))
		s := startServe(t, []string{"SSL_CERT_FILE=" + filepath.Join(dir, "tts.pem"), "ACCESSTOKEN_TXN_TOKEN_CLIENT_SECRET=tts-secret"},
			"--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
			"--txn-token-audience", "orders.internal", "--txn-token-service", svc.Endpoint(), "--txn-token-client-id", "serve-gw")
		check(t, s, service(svc.JWKSURL(), svc.Client()))
		if code, _, body := fetch(t, "http://"+s.http+"/.well-known/jwks.json", nil); code != 401 || strings.Contains(body, "keys") {
			t.Fatalf("exchanging, serve has no key set of its own, and the path is behind ForwardAuth: %d %s", code, body)
		}
		svc.Set("down")
		if code, h, _ := fetch(t, "http://"+s.http+"/orders", http.Header{"Authorization": {"Bearer " + access}}); code != 503 || h.Get("Txn-Token") != "" || h.Get("X-Auth-Subject") != "" {
			t.Fatalf("service down: %d %v", code, h)
		}
	})
}

func TestServeTransactionTokenSettings(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	w := newWorld(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	writeJWK(t, filepath.Join(dir, "private.jwk"), key, "k")
	writeJWK(t, filepath.Join(dir, "public.jwk"), &key.PublicKey, "k")
	base := []string{"serve", "--issuer", as.Issuer(), "--audience", "a", "--http", "127.0.0.1:0"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"key without audience":    {[]string{"--txn-token-key", filepath.Join(dir, "private.jwk")}, "setting txn-token-key: needs txn-token-audience"},
		"audience alone":          {[]string{"--txn-token-audience", "d"}, "txn-token-audience needs one"},
		"key and service":         {[]string{"--txn-token-audience", "d", "--txn-token-key", filepath.Join(dir, "private.jwk"), "--txn-token-service", "https://tts.example"}, "set one"},
		"public key":              {[]string{"--txn-token-audience", "d", "--txn-token-key", filepath.Join(dir, "public.jwk")}, "not a private"},
		"missing key file":        {[]string{"--txn-token-audience", "d", "--txn-token-key", filepath.Join(dir, "none.jwk")}, "setting txn-token-key"},
		"lifetime too long":       {[]string{"--txn-token-audience", "d", "--txn-token-key", filepath.Join(dir, "private.jwk"), "--txn-token-lifetime", "2h"}, "setting txn-token-key: txntoken: SignerConfig.Lifetime"},
		"service not a URL":       {[]string{"--txn-token-audience", "d", "--txn-token-service", "tts"}, "setting txn-token-service"},
		"client id while signing": {[]string{"--txn-token-audience", "d", "--txn-token-key", filepath.Join(dir, "private.jwk"), "--txn-token-client-id", "x"}, "only with txn-token-service"},
	} {
		cmd := exec.Command(binary, append(append([]string{}, base...), tc.args...)...)
		cmd.Env = w.env
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d (%v), output %q; want 2 and %q", name, code, err, out, tc.want)
		}
	}
}
