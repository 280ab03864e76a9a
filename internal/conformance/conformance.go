// Package conformance is the one table of requests and expected outcomes
// that every adapter's tests run (httpauth, grpcauth, echoauth, echo5auth),
// so that the transports cannot drift apart. It starts a real authorization
// server from the test kit and real validators; each adapter only sends the
// case's token its own way and compares what comes back.
package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/txntoken"
)

// Realm is the realm every adapter under test is configured with.
const Realm = "conformance"

// MetadataURL is the RFC 9728 metadata URL of the resource metadata rows.
const MetadataURL = "https://api.example.test/.well-known/oauth-protected-resource"

// Scope is the scope the protected resource of every case requires.
const Scope = "orders:read"

// Case is one request and what every transport must answer.
type Case struct {
	Name      string
	Validator accesstoken.TokenValidator
	Token     string // "" sends no token at all
	// Twice sends the Authorization header (or metadata) twice, or the
	// TokenHeader twice.
	Twice bool
	// TokenHeader, when set, configures the adapter with
	// WithTokenHeader(TokenHeader), and Token travels in that header (as
	// metadata, its lower-case name) without a scheme, instead of in
	// Authorization.
	TokenHeader string
	// Authorization, when set, is sent as the Authorization header (or
	// metadata) as it is, beside a TokenHeader, which must be ignored.
	Authorization string
	// Scheme is the authorization scheme to send the token with; "" is
	// Bearer.
	Scheme string
	// Proof, when set, makes the DPoP proof for the request: the method
	// (GET over HTTP, POST over gRPC) and the URL the server sees (for
	// gRPC, http://<authority><full method>). It goes in the "DPoP"
	// header or "dpop" metadata.
	Proof func(method, url string) string
	// Nonce is whether the answer must carry a DPoP-Nonce header
	// ("dpop-nonce" metadata).
	Nonce bool
	// Roles, when set, are roles the protected resource requires beside
	// Scope (each adapter's per-route role check).
	Roles []string
	// Authentication, when set, is what the protected resource requires of
	// the user's login (each adapter's per-route RFC 9470 check).
	Authentication *accesstoken.AuthenticationRequirement
	// ResourceMetadata, when set, is passed to the adapter's
	// WithResourceMetadata; 401 and 403 challenges then carry it.
	ResourceMetadata string
	// TLS, when set, makes the runner serve the case over TLS with
	// ServerTLS and call it with TLS.Client, which presents the client
	// certificate of the case (or none).
	TLS *TLS

	// Sentinel is the error the rejection matches; nil for acceptance.
	Sentinel error
	// Status is the HTTP status; Challenge the exact WWW-Authenticate value
	// ("" for none).
	Status    int
	Challenge string
	// GRPCCode is the name of the gRPC status code ("OK" for acceptance).
	GRPCCode string
	// Subject is the "sub" a handler must see in the claims when accepted.
	Subject string
}

// SetHeaders writes the case's credentials to an HTTP request's header,
// as every HTTP runner sends them.
func (c Case) SetHeaders(h http.Header) {
	for i := 0; i < len(c.pairs()); i += 2 {
		h.Add(c.pairs()[i], c.pairs()[i+1])
	}
}

// Metadata is the same as gRPC metadata key-value pairs (keys in lower
// case), for metadata.AppendToOutgoingContext.
func (c Case) Metadata() []string {
	kv := c.pairs()
	for i := 0; i < len(kv); i += 2 {
		kv[i] = strings.ToLower(kv[i])
	}
	return kv
}

func (c Case) pairs() []string {
	var kv []string
	if c.Authorization != "" {
		kv = append(kv, "Authorization", c.Authorization)
	}
	if c.Token == "" {
		return kv
	}
	name, value := "Authorization", "Bearer "+c.Token
	switch {
	case c.TokenHeader != "":
		name, value = c.TokenHeader, c.Token
	case c.Scheme != "":
		value = c.Scheme + " " + c.Token
	}
	kv = append(kv, name, value)
	if c.Twice {
		kv = append(kv, name, value)
	}
	return kv
}

// TLS is what a runner needs to serve a case over mutual TLS.
type TLS struct {
	Server *tls.Config // a certificate for 127.0.0.1; client certificates requested
	Client *tls.Config // trusts Server's certificate; presents the case's certificate
}

// newTLS makes a server certificate for 127.0.0.1 (self-signed, so it is
// its own root) and the client side with certs.
func newTLS(t testing.TB, certs ...tls.Certificate) *TLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &TLS{
		Server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, ClientAuth: tls.RequestClientCert},
		Client: &tls.Config{RootCAs: roots, Certificates: certs},
	}
}

// Cases starts an authorization server and two validators (one for a
// reachable issuer, one for an issuer that is down) and returns the table.
// Everything is stopped by t.Cleanup.
func Cases(t testing.TB) []Case {
	t.Helper()
	as := accesstokentest.NewServer()
	t.Cleanup(as.Close)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })

	down := accesstokentest.NewServer(accesstokentest.WithHandler(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		})
	}))
	t.Cleanup(down.Close)
	unavailable, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: down.Issuer(), Audience: []string{down.Audience()}, FetchTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unavailable.Close() })

	dv, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256", "EdDSA"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dv.Close() })
	nv, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256"}, Nonces: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nv.Close() })
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora", "scope": Scope}, accesstokentest.WithDPoPKey(key))
	proof := func(opts ...accesstokentest.ProofOption) func(method, url string) string {
		return func(method, url string) string {
			return key.Proof(method, url, append([]accesstokentest.ProofOption{accesstokentest.WithAccessToken(bound)}, opts...)...)
		}
	}
	dpopAlgs := `, DPoP realm="` + Realm + `", algs="ES256 EdDSA"`
	dpopError := func(code, desc string) string {
		return `Bearer realm="` + Realm + `", DPoP realm="` + Realm + `", error="` + code + `", error_description="` + desc + `", algs="ES256 EdDSA"`
	}

	invalid := func(desc string) string {
		return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + desc + `"`
	}
	mine := accesstokentest.NewClientCertificate("client-a")
	theirs := accesstokentest.NewClientCertificate("client-a")
	certBound := as.Token(map[string]any{"sub": "svc-a", "scope": Scope}, accesstokentest.WithCertificate(mine.Leaf))
	otherCert := `Bearer realm="` + Realm + `", error="invalid_token", error_description="The access token is bound to another client certificate"`

	txn := txnCases(t, as.Token(map[string]any{"sub": "alice", "scope": Scope}), invalid)
	return append([]Case{
		{Name: "valid", Validator: v, Token: as.Token(map[string]any{"sub": "alice", "scope": Scope}),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "alice"},
		{Name: "missing token", Validator: v,
			Sentinel: accesstoken.ErrNoToken, Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, GRPCCode: "Unauthenticated"},
		{Name: "garbage", Validator: v, Token: "garbage",
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, Challenge: invalid("The access token is not a JWT and cannot be introspected"), GRPCCode: "Unauthenticated"},
		{Name: "expired", Validator: v, Token: as.Token(map[string]any{"scope": Scope}, accesstokentest.WithExpiry(-time.Minute)),
			Sentinel: accesstoken.ErrTokenExpired, Status: http.StatusUnauthorized, Challenge: invalid("The access token expired"), GRPCCode: "Unauthenticated"},
		{Name: "wrong audience", Validator: v, Token: as.Token(map[string]any{"aud": "https://other.example", "scope": Scope}),
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, Challenge: invalid("The access token is meant for another audience"), GRPCCode: "Unauthenticated"},
		{Name: "missing scope", Validator: v, Token: as.Token(map[string]any{"scope": "profile"}),
			Sentinel: accesstoken.ErrInsufficientScope, Status: http.StatusForbidden, GRPCCode: "PermissionDenied",
			Challenge: `Bearer realm="` + Realm + `", error="insufficient_scope", error_description="The access token lacks a required scope", scope="` + Scope + `"`},
		{Name: "token twice", Validator: v, Token: as.Token(map[string]any{"scope": Scope}), Twice: true,
			Sentinel: accesstoken.ErrInvalidRequest, Status: http.StatusBadRequest, GRPCCode: "InvalidArgument",
			Challenge: `Bearer realm="` + Realm + `", error="invalid_request", error_description="The request is malformed"`},
		{Name: "keys unavailable", Validator: unavailable, Token: down.Token(map[string]any{"scope": Scope}),
			Sentinel: accesstoken.ErrUnavailable, Status: http.StatusServiceUnavailable, GRPCCode: "Unavailable"},

		{Name: "dpop valid", Validator: dv, Scheme: "DPoP", Token: bound, Proof: proof(),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "dora"},
		{Name: "dpop missing token", Validator: dv,
			Sentinel: accesstoken.ErrNoToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: `Bearer realm="` + Realm + `"` + dpopAlgs},
		{Name: "dpop without proof", Validator: dv, Scheme: "DPoP", Token: bound,
			Sentinel: accesstoken.ErrInvalidDPoPProof, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: dpopError("invalid_dpop_proof", "The DPoP proof is invalid")},
		{Name: "dpop proof for another URL", Validator: dv, Scheme: "DPoP", Token: bound,
			Proof:    func(method, _ string) string { return proof()(method, "https://elsewhere.example/orders") },
			Sentinel: accesstoken.ErrInvalidDPoPProof, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: dpopError("invalid_dpop_proof", "The DPoP proof is invalid")},
		{Name: "dpop-bound token as bearer", Validator: dv, Token: bound,
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: invalid("The access token is bound to a DPoP key and needs the DPoP scheme") + dpopAlgs},
		{Name: "role present", Validator: v, Roles: []string{"orders-reader"},
			Token:  as.Token(map[string]any{"sub": "rita", "scope": Scope, "roles": []string{"orders-reader", "auditor"}}),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "rita"},
		{Name: "role missing", Validator: v, Roles: []string{"orders-reader"},
			Token:    as.Token(map[string]any{"sub": "rita", "scope": Scope, "realm_access": map[string]any{"roles": []string{"auditor"}}}),
			Sentinel: accesstoken.ErrInsufficientScope, Status: http.StatusForbidden, GRPCCode: "PermissionDenied",
			Challenge: `Bearer realm="` + Realm + `", error="insufficient_scope", error_description="The access token lacks a required role"`},
		{Name: "resource metadata, no token", Validator: v, ResourceMetadata: MetadataURL,
			Sentinel: accesstoken.ErrNoToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: `Bearer realm="` + Realm + `", resource_metadata="` + MetadataURL + `"`},
		{Name: "resource metadata, missing scope", Validator: v, ResourceMetadata: MetadataURL, Token: as.Token(map[string]any{"scope": "profile"}),
			Sentinel: accesstoken.ErrInsufficientScope, Status: http.StatusForbidden, GRPCCode: "PermissionDenied",
			Challenge: `Bearer realm="` + Realm + `", error="insufficient_scope", error_description="The access token lacks a required scope", scope="` + Scope + `", resource_metadata="` + MetadataURL + `"`},
		{Name: "resource metadata, keys unavailable", Validator: unavailable, ResourceMetadata: MetadataURL, Token: down.Token(map[string]any{"scope": Scope}),
			Sentinel: accesstoken.ErrUnavailable, Status: http.StatusServiceUnavailable, GRPCCode: "Unavailable"},
		{Name: "step-up satisfied", Validator: v, Authentication: &accesstoken.AuthenticationRequirement{ACRValues: []string{"mfa"}, MaxAge: time.Hour},
			Token:  as.Token(map[string]any{"sub": "sam", "scope": Scope, "acr": "mfa", "auth_time": time.Now().Unix()}),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "sam"},
		{Name: "step-up needed", Validator: v, Authentication: &accesstoken.AuthenticationRequirement{ACRValues: []string{"mfa"}, MaxAge: time.Hour},
			Token:    as.Token(map[string]any{"sub": "sam", "scope": Scope, "acr": "pwd", "auth_time": time.Now().Add(-2 * time.Hour).Unix()}),
			Sentinel: accesstoken.ErrInsufficientUserAuthentication, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: `Bearer realm="` + Realm + `", error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", acr_values="mfa", max_age="3600"`},
		{Name: "certificate-bound, its certificate", Validator: v, Token: certBound, TLS: newTLS(t, mine),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "svc-a"},
		{Name: "certificate-bound, another certificate", Validator: v, Token: certBound, TLS: newTLS(t, theirs),
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated", Challenge: otherCert},
		{Name: "certificate-bound, no certificate", Validator: v, Token: certBound, TLS: newTLS(t),
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated", Challenge: otherCert},
		{Name: "certificate-bound, plain connection", Validator: v, Token: certBound,
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated", Challenge: otherCert},
		{Name: "dpop over TLS", Validator: dv, Scheme: "DPoP", Token: bound, Proof: proof(), TLS: newTLS(t),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "dora"},
		{Name: "dpop nonce required", Validator: nv, Scheme: "DPoP", Token: bound, Proof: proof(), Nonce: true,
			Sentinel: accesstoken.ErrUseDPoPNonce, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: `Bearer realm="` + Realm + `", DPoP realm="` + Realm + `", error="use_dpop_nonce", error_description="A fresh DPoP nonce is required", algs="ES256"`},
	}, txn...)
}

// txnCases are the Transaction Token rows (WithTokenHeader): a token minted
// by a gateway's txntoken.Signer in the Txn-Token header, with garbage in
// Authorization that must be ignored; the header twice; none, with a valid
// access token in Authorization; an access token in the header; a token
// signed by another key under the same kid.
func txnCases(t testing.TB, accessToken string, invalid func(string) string) []Case {
	signer := func() *txntoken.Signer {
		s, err := txntoken.NewSigner(txntoken.SignerConfig{Key: newECKey(t), KeyID: "gw-1", TrustDomain: "conformance.internal"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	gw, forger := signer(), signer()
	jwks := httptest.NewServer(gw)
	t.Cleanup(jwks.Close)
	cfg := txntoken.Config("", "conformance.internal")
	cfg.JWKSURL = jwks.URL
	cfg.StrictStart = true
	tv, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tv.Close() })
	mint := func(s *txntoken.Signer, sub string) string {
		tok, err := s.Mint(context.Background(), txntoken.Request{Claims: &accesstoken.Claims{Subject: sub, Scopes: []string{Scope}}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const h = txntoken.Header
	return []Case{
		{Name: "txn token", Validator: tv, TokenHeader: h, Token: mint(gw, "tess"), Authorization: "Bearer not-this-one",
			Status: http.StatusOK, GRPCCode: "OK", Subject: "tess"},
		{Name: "txn token twice", Validator: tv, TokenHeader: h, Token: mint(gw, "tess"), Twice: true,
			Sentinel: accesstoken.ErrInvalidRequest, Status: http.StatusBadRequest, GRPCCode: "InvalidArgument",
			Challenge: `Bearer realm="` + Realm + `", error="invalid_request", error_description="The request is malformed"`},
		{Name: "txn token missing, an access token in Authorization", Validator: tv, TokenHeader: h, Authorization: "Bearer " + accessToken,
			Sentinel: accesstoken.ErrNoToken, Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, GRPCCode: "Unauthenticated"},
		{Name: "access token in the txn header", Validator: tv, TokenHeader: h, Token: accessToken,
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: invalid("The access token has a type that is not accepted")},
		{Name: "txn token forged", Validator: tv, TokenHeader: h, Token: mint(forger, "mallory"),
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, GRPCCode: "Unauthenticated",
			Challenge: invalid("The access token signature is invalid")},
	}
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
