package txntoken_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/internal/tts"
	"github.com/tokenguard/accesstoken/txntoken"
)

const domain = "trust-domain.example"

// service is the validator of a service in the trust domain.
func service(t *testing.T, issuer, jwksURL string) *accesstoken.Validator {
	t.Helper()
	cfg := txntoken.Config(issuer, domain)
	cfg.JWKSURL = jwksURL
	cfg.StrictStart = true
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func caller() *accesstoken.Claims {
	return &accesstoken.Claims{Subject: "alice", ClientID: "web-app", Scopes: []string{"orders:read", "orders:write"}, ACR: "mfa", AMR: []string{"otp", "pwd"}}
}

func signer(t *testing.T, key crypto.Signer, issuer string) (*txntoken.Signer, string) {
	t.Helper()
	s, err := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: domain, Issuer: issuer, Workload: "edge-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/.well-known/jwks.json"
}

// A gateway's Signer mints; a service verifies with the JWK Set the
// signer serves and reads every claim of draft §5.2.
func TestSignerAndService(t *testing.T) {
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]crypto.Signer{"ES256": ec256, "ES384": ec384, "RS256": rsaKey, "EdDSA": edKey} {
		t.Run(name, func(t *testing.T) {
			s, jwks := signer(t, key, "https://gateway.trust-domain.example")
			v := service(t, "https://gateway.trust-domain.example", jwks)
			tok, err := s.Mint(context.Background(), txntoken.Request{
				AccessToken: "never-copied", Claims: caller(),
				Context: txntoken.RequestContext{IP: "203.0.113.7", Transport: "https", Method: "POST", Path: "/orders", TokenBinding: "dpop"},
				Details: map[string]any{"tenant": "acme"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tok, "never-copied") || strings.Contains(decodePayload(t, tok), "never-copied") {
				t.Fatal("the access token was copied into the Transaction Token")
			}
			c, err := v.Validate(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			x, err := txntoken.Decode(c)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "alice" || x.Scope != "orders:read orders:write" || !c.HasScope("orders:write") || x.RequestingWorkload != "edge-gateway" ||
				len(x.Txn) != 36 || x.RequestContext != (txntoken.RequestContext{IP: "203.0.113.7", Authn: "otp", Transport: "https", Method: "POST", Path: "/orders", TokenBinding: "dpop"}) ||
				x.TransactionContext["client_id"] != "web-app" || x.TransactionContext["acr"] != "mfa" || x.TransactionContext["tenant"] != "acme" ||
				c.ExpiresAt.Sub(c.IssuedAt) != txntoken.DefaultLifetime {
				t.Fatalf("claims %+v, txn claims %+v", c, x)
			}
			// Two mints: two transactions.
			tok2, _ := s.Mint(context.Background(), txntoken.Request{Claims: caller()})
			c2, _ := v.Validate(context.Background(), tok2)
			if x2, _ := txntoken.Decode(c2); x2.Txn == x.Txn {
				t.Fatal("two mints share a txn")
			}
		})
	}
}

func decodePayload(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	b, err := base64URL(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every rule of the draft a service applies, each broken once: the token
// is refused, and a well-formed one is accepted by the same validator.
func TestServiceRefuses(t *testing.T) {
	key := transmitter.NewKey("k1")
	srv := httptest.NewServer(jwksHandler(key))
	defer srv.Close()
	v := service(t, "", srv.URL)
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "aud": domain, "txn": "t-1", "sub": "alice",
			"scope": "orders:read", "req_wl": "gw", "rctx": map[string]any{"req_ip": "198.51.100.1"}}
	}
	header := map[string]any{"alg": "ES256", "kid": "k1", "typ": "txntoken+jwt"}
	if _, err := v.Validate(context.Background(), key.Sign(header, good())); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	withIss := good()
	withIss["iss"] = "https://anyone.example"
	if _, err := v.Validate(context.Background(), key.Sign(header, withIss)); err != nil {
		t.Fatalf(`Config("", domain) refused an "iss": %v`, err)
	}
	for name, edit := range map[string]func(h, c map[string]any){
		"another trust domain":  func(_, c map[string]any) { c["aud"] = "other-domain.example" },
		"no aud":                func(_, c map[string]any) { delete(c, "aud") },
		"typ at+jwt":            func(h, _ map[string]any) { h["typ"] = "at+jwt" },
		"no typ":                func(h, _ map[string]any) { delete(h, "typ") },
		"expired":               func(_, c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() },
		"no exp":                func(_, c map[string]any) { delete(c, "exp") },
		"no iat":                func(_, c map[string]any) { delete(c, "iat") },
		"lifetime over an hour": func(_, c map[string]any) { c["exp"] = now.Add(61 * time.Minute).Unix() },
		"no txn":                func(_, c map[string]any) { delete(c, "txn") },
		"empty txn":             func(_, c map[string]any) { c["txn"] = "" },
		"txn not a string":      func(_, c map[string]any) { c["txn"] = 7 },
		"no sub":                func(_, c map[string]any) { delete(c, "sub") },
		"no scope":              func(_, c map[string]any) { delete(c, "scope") },
		"no req_wl":             func(_, c map[string]any) { delete(c, "req_wl") },
		"req_wl as an array":    func(_, c map[string]any) { c["req_wl"] = []string{"gw"} },
		"signed by another key": nil,
		"alg none":              func(h, _ map[string]any) { h["alg"] = "none" },
		"issued in the future": func(_, c map[string]any) {
			c["iat"] = now.Add(time.Hour).Unix()
			c["exp"] = now.Add(65 * time.Minute).Unix()
		},
		"TXN in capitals, no txn": func(_, c map[string]any) { delete(c, "txn"); c["TXN"] = "t-1" },
	} {
		h, c := map[string]any{"alg": "ES256", "kid": "k1", "typ": "txntoken+jwt"}, good()
		k := key
		if edit == nil {
			k = transmitter.NewKey("k1")
		} else {
			edit(h, c)
		}
		if _, err := v.Validate(context.Background(), k.Sign(h, c)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid_token", name, err)
		}
	}

	// A service that names the issuer refuses another and none.
	strict := service(t, "https://gateway.example", srv.URL)
	for _, iss := range []any{nil, "https://other.example"} {
		c := good()
		if iss != nil {
			c["iss"] = iss
		}
		if _, err := strict.Validate(context.Background(), key.Sign(header, c)); err == nil {
			t.Errorf("iss %v accepted by a service that names its issuer", iss)
		}
	}
	c := good()
	c["iss"] = "https://gateway.example"
	if _, err := strict.Validate(context.Background(), key.Sign(header, c)); err != nil {
		t.Fatal(err)
	}
}

// An access-token validator (default token types) refuses Transaction
// Tokens, even from its own issuer's keys.
func TestAccessTokenValidatorRefusesTxnTokens(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok := as.Token(map[string]any{"sub": "alice", "txn": "t", "scope": "a", "req_wl": "gw"}, accesstokentest.WithHeader("typ", "txntoken+jwt"))
	if _, err := v.Validate(context.Background(), tok); err == nil {
		t.Fatal("an access-token validator accepted a Transaction Token")
	}
}

// RFC 8693 exchange at a Transaction Token Service built from the draft:
// the request it receives, the token it issues verified by a service, and
// every wrong answer refused.
func TestExchanger(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	subjects, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer subjects.Close()
	svc := tts.New(t, domain, "gateway", "s3cret", subjects)
	e, err := txntoken.NewExchanger(txntoken.ExchangerConfig{Endpoint: svc.Endpoint(), TrustDomain: domain, ClientID: "gateway", ClientSecret: "s3cret", HTTPClient: svc.Client(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	access := as.Token(map[string]any{"sub": "alice", "scope": "orders:read orders:write"})
	ac, err := subjects.Validate(context.Background(), access)
	if err != nil {
		t.Fatal(err)
	}
	req := txntoken.Request{AccessToken: access, Claims: ac, Scope: "orders:read",
		Context: txntoken.RequestContext{IP: "203.0.113.9", Method: "GET", Path: "/orders/7"}, Details: map[string]any{"order": "7"}}
	tok, err := e.Mint(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := svc.LastRequest()
	if got["audience"][0] != domain || got["scope"][0] != "orders:read" || got["requested_token_type"][0] != txntoken.TokenTypeURN ||
		got["subject_token_type"][0] != "urn:ietf:params:oauth:token-type:access_token" ||
		got["request_context"][0] != `{"req_ip":"203.0.113.9","req_method":"GET","req_path":"/orders/7"}` || got["request_details"][0] != `{"order":"7"}` {
		t.Fatalf("the service received %v", got)
	}
	cfg := txntoken.Config("", domain)
	cfg.JWKSURL = svc.JWKSURL()
	cfg.HTTPClient = svc.Client()
	cfg.StrictStart = true
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Validate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := txntoken.Decode(c)
	if c.Subject != "alice" || x.Scope != "orders:read" || x.RequestContext.Path != "/orders/7" || x.TransactionContext["order"] != "7" {
		t.Fatalf("exchanged token %+v %+v", c, x)
	}

	// A scope the access token lacks: the service refuses (draft §10.6).
	if _, err := e.Mint(context.Background(), txntoken.Request{AccessToken: access, Claims: ac, Scope: "admin"}); !errors.Is(err, txntoken.ErrExchange) {
		t.Fatalf("a wider scope: %v", err)
	}
	for _, m := range []string{"refresh", "type", "error", "down", "slow"} {
		svc.Set(m)
		start := time.Now()
		_, err := e.Mint(context.Background(), req)
		if !errors.Is(err, txntoken.ErrExchange) || strings.Contains(err.Error(), access) {
			t.Errorf("%s: %v", m, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: took %v, past the timeout", m, time.Since(start))
		}
	}
	svc.Set("")
	bad, _ := txntoken.NewExchanger(txntoken.ExchangerConfig{Endpoint: svc.Endpoint(), TrustDomain: domain, ClientID: "gateway", ClientSecret: "guess", HTTPClient: svc.Client()})
	if _, err := bad.Mint(context.Background(), req); !errors.Is(err, txntoken.ErrExchange) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("a wrong client secret: %v", err)
	}
}

func TestNewSignerErrors(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	k := transmitter.NewKey("x").Priv
	for name, cfg := range map[string]txntoken.SignerConfig{
		"no key":          {TrustDomain: domain},
		"no trust domain": {Key: k},
		"RSA 1024":        {Key: small, TrustDomain: domain},
		"P-224":           {Key: p224, TrustDomain: domain},
		"lifetime 2h":     {Key: k, TrustDomain: domain, Lifetime: 2 * time.Hour},
	} {
		if _, err := txntoken.NewSigner(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s, _ := txntoken.NewSigner(txntoken.SignerConfig{Key: k, TrustDomain: domain})
	if _, err := s.Mint(context.Background(), txntoken.Request{Claims: &accesstoken.Claims{Scopes: []string{"a"}}}); err == nil {
		t.Error("minted for a token with neither sub nor client_id")
	}
	if _, err := s.Mint(context.Background(), txntoken.Request{Claims: &accesstoken.Claims{Subject: "a"}}); err == nil {
		t.Error("minted without a scope")
	}
}
