package extauthz_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/extauthz"
	"github.com/tokenguard/accesstoken/internal/tts"
	"github.com/tokenguard/accesstoken/txntoken"
)

// The ext_authz server mints a Transaction Token for an allowed request
// (overwriting any the client sent), from the request Envoy describes; a
// refused request gets none; a Transaction Token Service that is down
// denies with 503.
func TestCheckMintsTransactionTokens(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: "mesh.internal"})
	jwks := httptest.NewServer(signer)
	defer jwks.Close()
	cfg := txntoken.Config("", "mesh.internal")
	cfg.JWKSURL = jwks.URL
	svc, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	c := start(t, extauthz.NewServer(v, extauthz.WithTransactionToken(signer)))
	tok := as.Token(map[string]any{"sub": "carol", "scope": "orders:read"})
	d, _ := decide(t, c, envoy("PUT", "https", "api.example.com", "/orders/9?x=1", map[string]string{"authorization": "Bearer " + tok, "txn-token": "forged.by.client"}))
	if d.Code != 0 {
		t.Fatalf("%+v", d)
	}
	claims, err := svc.Validate(context.Background(), d.Set["Txn-Token"])
	if err != nil {
		t.Fatal(err)
	}
	x, _ := txntoken.Decode(claims)
	if claims.Subject != "carol" || x.RequestContext != (txntoken.RequestContext{IP: "203.0.113.9", Transport: "https", Method: "PUT", Path: "/orders/9", TokenBinding: "bearer"}) {
		t.Fatalf("minted %+v %+v", claims, x)
	}
	if d, _ := decide(t, c, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer nope"})); d.Status != 401 || d.Set["Txn-Token"] != "" {
		t.Fatalf("refused: %+v", d)
	}

	down := tts.New(t, "mesh.internal", "gw", "s", v)
	down.Set("down")
	ex, _ := txntoken.NewExchanger(txntoken.ExchangerConfig{Endpoint: down.Endpoint(), TrustDomain: "mesh.internal", ClientID: "gw", ClientSecret: "s", HTTPClient: down.Client()})
	c2 := start(t, extauthz.NewServer(v, extauthz.WithTransactionToken(ex)))
	if d, _ := decide(t, c2, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + tok})); d.Code != 14 || d.Status != 503 {
		t.Fatalf("service down: %+v", d)
	}
	down.Set("")
	d, _ = decide(t, c2, envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + tok}))
	if d.Code != 0 || d.Set["Txn-Token"] == "" {
		t.Fatalf("exchange: %+v", d)
	}
}
