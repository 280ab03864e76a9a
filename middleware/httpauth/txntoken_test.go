package httpauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/tts"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/txntoken"
)

const trustDomain = "orders.internal"

// txnFixture: an authorization server, the gateway's validator, a Signer
// and the validator of a service of the trust domain.
func txnFixture(t *testing.T) (*accesstokentest.Server, *accesstoken.Validator, *txntoken.Signer, *accesstoken.Validator) {
	as := accesstokentest.NewServer()
	t.Cleanup(as.Close)
	gw, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: trustDomain, Issuer: "https://gw.example.com", Workload: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(signer)
	t.Cleanup(jwks.Close)
	cfg := txntoken.Config("https://gw.example.com", trustDomain)
	cfg.JWKSURL = jwks.URL
	cfg.StrictStart = true
	svc, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return as, gw, signer, svc
}

// ForwardAuth mints for the original request (from the trusted proxy's
// headers) and never for a refused one; a minter that fails makes it 503.
func TestForwardAuthMintsTransactionTokens(t *testing.T) {
	as, gw, signer, svc := txnFixture(t)
	h := httpauth.ForwardAuth(gw, httpauth.WithTransactionToken(signer), httpauth.WithTrustedProxies("192.0.2.1"))
	req := func(token string) *http.Request {
		r := httptest.NewRequest("GET", "/auth", nil)
		r.RemoteAddr = "192.0.2.1:5000"
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("X-Forwarded-Method", "POST")
		r.Header.Set("X-Forwarded-Uri", "/orders/42?expand=items")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-For", "203.0.113.50")
		r.Header.Set("Txn-Token", "forged.by.client")
		return r
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req(as.Token(map[string]any{"sub": "alice", "scope": "orders:write", "client_id": "web"})))
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	c, err := svc.Validate(context.Background(), w.Header().Get("Txn-Token"))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := txntoken.Decode(c)
	if c.Subject != "alice" || x.Scope != "orders:write" || x.RequestContext != (txntoken.RequestContext{IP: "203.0.113.50", Transport: "https", Method: "POST", Path: "/orders/42", TokenBinding: "bearer"}) {
		t.Fatalf("minted %+v %+v", c, x)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req("garbage"))
	if w.Code != 401 || w.Header().Get("Txn-Token") != "" {
		t.Fatalf("refused token: %d, Txn-Token %q", w.Code, w.Header().Get("Txn-Token"))
	}

	// A Transaction Token Service that is down: 503, no token, no identity.
	down := tts.New(t, trustDomain, "gw", "s", gw)
	down.Set("down")
	ex, _ := txntoken.NewExchanger(txntoken.ExchangerConfig{Endpoint: down.Endpoint(), TrustDomain: trustDomain, ClientID: "gw", ClientSecret: "s", HTTPClient: down.Client()})
	w = httptest.NewRecorder()
	httpauth.ForwardAuth(gw, httpauth.WithTransactionToken(ex)).ServeHTTP(w, req(as.Token(map[string]any{"sub": "alice", "scope": "orders:write"})))
	if w.Code != 503 || w.Header().Get("Txn-Token") != "" || w.Header().Get("X-Auth-Subject") != "" {
		t.Fatalf("service down: %d %v", w.Code, w.Header())
	}
}

// A Go gateway: Middleware mints, ForwardIdentity carries it in the
// proxied request in place of the client's.
func TestMiddlewareMintsForTheProxy(t *testing.T) {
	as, gw, signer, svc := txnFixture(t)
	var seen []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Values("Txn-Token")
		if len(seen) != 1 {
			http.Error(w, "want one Txn-Token", http.StatusBadRequest)
			return
		}
		c, err := svc.Validate(r.Context(), seen[0])
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, c.Subject)
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		httpauth.ForwardIdentity(pr.Out)
	}}
	edge := httptest.NewServer(httpauth.Middleware(gw, httpauth.WithTransactionToken(signer))(proxy))
	defer edge.Close()
	r, _ := http.NewRequest("GET", edge.URL+"/orders", nil)
	r.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"sub": "bob", "scope": "orders:read"}))
	r.Header.Add("Txn-Token", "forged.by.client")
	r.Header.Add("Txn-Token", "another.forged.one")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "bob" {
		t.Fatalf("%d %s (backend saw %q)", resp.StatusCode, body, seen)
	}
}
