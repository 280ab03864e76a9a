// Package bench compares accesstoken with the Go libraries an API would
// otherwise use to validate JWT access tokens. Every contender gets the same
// token and the same JWKS, and must first pass the same accept/reject checks
// (TestContendersAgree), so that nobody is measured doing less work.
//
// Run ./run.sh for the table; see README.md for the method.
package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	auth0jwks "github.com/auth0/go-jwt-middleware/v2/jwks"
	auth0 "github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tokenguard/accesstoken"
)

const audience = "https://api.example.test"

var algs = []string{"RS256", "ES256", "EdDSA"}

// env is one issuer on loopback: discovery, a JWKS with an RSA 2048, a
// P-256 and an Ed25519 key, and a signer for tokens.
type env struct {
	srv    *httptest.Server
	issuer string
	jwks   []byte
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
}

var sharedEnv = sync.OnceValue(func() *env {
	e := &env{}
	e.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	e.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, e.ed, _ = ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	e.jwks, _ = json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256", "n": b64(e.rsa.N.Bytes()), "e": b64(big.NewInt(int64(e.rsa.E)).Bytes())},
		map[string]any{"kty": "EC", "kid": "ec", "use": "sig", "alg": "ES256", "crv": "P-256",
			"x": b64(e.ec.X.FillBytes(make([]byte, 32))), "y": b64(e.ec.Y.FillBytes(make([]byte, 32)))},
		map[string]any{"kty": "OKP", "kid": "ed", "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "x": b64(e.ed.Public().(ed25519.PublicKey))},
	}})
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	e.issuer = e.srv.URL
	meta, _ := json.Marshal(map[string]any{
		"issuer": e.issuer, "jwks_uri": e.issuer + "/jwks", "authorization_endpoint": e.issuer + "/auth",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": algs,
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(meta)
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(e.jwks)
	})
	return e
})

// claims are those of a typical RFC 9068 access token.
func (e *env) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.issuer, "sub": "user-1234567890", "aud": audience, "client_id": "orders-web",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "f1d2b3a4-0000-4c5e-9abc-0123456789ab",
		"scope": "orders:read orders:write profile",
	}
}

// sign makes a compact JWS of claims with alg and typ at+jwt.
func (e *env) sign(alg string, claims map[string]any) string {
	kid := map[string]string{"RS256": "rsa", "ES256": "ec", "EdDSA": "ed"}[alg]
	h, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
	p, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(h) + "." + b64(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, _ = rsa.SignPKCS1v15(rand.Reader, e.rsa, crypto.SHA256, digest[:])
	case "ES256":
		r, s, _ := ecdsa.Sign(rand.Reader, e.ec, digest[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case "EdDSA":
		sig = ed25519.Sign(e.ed, []byte(input))
	}
	return input + "." + b64(sig)
}

// A contender turns a token into nil (accepted) or an error.
type contender struct {
	name  string
	setup func(t testing.TB, e *env, alg string) func(ctx context.Context, token string) error
}

var contenders = []contender{
	{"floor", setupFloor},
	{"stdlib", setupStdlib},
	{"accesstoken", setupAccesstoken},
	{"accesstoken-multi", setupMultiIssuer},
	{"golang-jwt+keyfunc", setupGolangJWT},
	{"auth0-v2", setupAuth0},
	{"go-oidc", setupGoOIDC},
	{"jwx", setupJWX},
}

// setupFloor is the bare signature check: split, decode the signature, hash,
// verify. It checks nothing else, so it is the least any validator can do;
// TestContendersAgree does not hold it to the claim checks.
func setupFloor(t testing.TB, e *env, alg string) func(context.Context, string) error {
	return func(_ context.Context, token string) error {
		i := strings.LastIndexByte(token, '.')
		sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err != nil {
			return err
		}
		return verifyStdlib(e, alg, token[:i], sig)
	}
}

func verifyStdlib(e *env, alg, input string, sig []byte) error {
	switch alg {
	case "RS256":
		d := sha256.Sum256([]byte(input))
		return rsa.VerifyPKCS1v15(&e.rsa.PublicKey, crypto.SHA256, d[:], sig)
	case "ES256":
		if len(sig) != 64 {
			return errors.New("bad signature length")
		}
		d := sha256.Sum256([]byte(input))
		if !ecdsa.Verify(&e.ec.PublicKey, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return errors.New("bad signature")
		}
	case "EdDSA":
		if !ed25519.Verify(e.ed.Public().(ed25519.PublicKey), []byte(input), sig) {
			return errors.New("bad signature")
		}
	default:
		return errors.New("unknown alg")
	}
	return nil
}

// setupStdlib is what a careful programmer writes with the standard library
// alone: base64, encoding/json for header and claims, the signature, then
// iss, aud and exp.
func setupStdlib(t testing.TB, e *env, alg string) func(context.Context, string) error {
	return func(_ context.Context, token string) error {
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			return errors.New("malformed")
		}
		rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			return err
		}
		var h struct {
			Alg string `json:"alg"`
		}
		if err := json.Unmarshal(rawHeader, &h); err != nil || h.Alg != alg {
			return errors.New("bad header")
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			return err
		}
		if err := verifyStdlib(e, alg, token[:len(parts[0])+1+len(parts[1])], sig); err != nil {
			return err
		}
		rawClaims, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return err
		}
		var c struct {
			Iss string   `json:"iss"`
			Aud audList  `json:"aud"`
			Exp *float64 `json:"exp"`
		}
		if err := json.Unmarshal(rawClaims, &c); err != nil {
			return err
		}
		if c.Iss != e.issuer || !slices.Contains(c.Aud, audience) || c.Exp == nil || float64(time.Now().Unix()) >= *c.Exp {
			return errors.New("bad claims")
		}
		return nil
	}
}

type audList []string

func (a *audList) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = []string{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

func newAccesstoken(t testing.TB, e *env, alg string, cacheSize int) *accesstoken.Validator {
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: e.issuer, Audience: []string{audience}, Algorithms: []string{alg},
		StrictStart: true, VerifiedCacheSize: cacheSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// setupAccesstoken measures first-seen tokens: the verified-token cache is
// off, so every call parses and verifies.
func setupAccesstoken(t testing.TB, e *env, alg string) func(context.Context, string) error {
	v := newAccesstoken(t, e, alg, -1)
	return func(ctx context.Context, token string) error {
		_, err := v.Validate(ctx, token)
		return err
	}
}

// newMultiIssuer routes among two issuers: the bench issuer and a second
// one with a static key, so that routing has a choice to make.
func newMultiIssuer(t testing.TB, e *env, alg string, cacheSize int) *accesstoken.MultiIssuer {
	m, err := accesstoken.NewMultiIssuer(context.Background(), accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{
		{Issuer: e.issuer, Audience: []string{audience}, Algorithms: []string{alg}, StrictStart: true, VerifiedCacheSize: cacheSize},
		{Issuer: "https://other.example", Audience: []string{audience}, Keys: map[string]any{"": e.ed.Public()}, VerifiedCacheSize: cacheSize},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// setupMultiIssuer is setupAccesstoken behind NewMultiIssuer's routing.
func setupMultiIssuer(t testing.TB, e *env, alg string) func(context.Context, string) error {
	m := newMultiIssuer(t, e, alg, -1)
	return func(ctx context.Context, token string) error {
		_, err := m.Validate(ctx, token)
		return err
	}
}

func setupGolangJWT(t testing.TB, e *env, alg string) func(context.Context, string) error {
	k, err := keyfunc.NewJWKSetJSON(e.jwks)
	if err != nil {
		t.Fatal(err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(e.issuer),
		jwt.WithAudience(audience), jwt.WithExpirationRequired())
	return func(_ context.Context, token string) error {
		_, err := parser.Parse(token, k.Keyfunc)
		return err
	}
}

func setupAuth0(t testing.TB, e *env, alg string) func(context.Context, string) error {
	u, _ := url.Parse(e.issuer)
	provider := auth0jwks.NewCachingProvider(u, time.Hour)
	v, err := auth0.New(provider.KeyFunc, auth0.SignatureAlgorithm(alg), e.issuer, []string{audience})
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, token string) error {
		_, err := v.ValidateToken(ctx, token)
		return err
	}
}

func setupGoOIDC(t testing.TB, e *env, alg string) func(context.Context, string) error {
	ks := oidc.NewRemoteKeySet(context.Background(), e.issuer+"/jwks")
	v := oidc.NewVerifier(e.issuer, ks, &oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{alg}})
	return func(ctx context.Context, token string) error {
		_, err := v.Verify(ctx, token)
		return err
	}
}

func setupJWX(t testing.TB, e *env, alg string) func(context.Context, string) error {
	set, err := jwk.Parse(e.jwks)
	if err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, token string) error {
		_, err := jwxjwt.ParseString(token, jwxjwt.WithKeySet(set), jwxjwt.WithValidate(true),
			jwxjwt.WithIssuer(e.issuer), jwxjwt.WithAudience(audience))
		return err
	}
}

// TestContendersAgree holds every contender to the same decisions before any
// of them is measured.
func TestContendersAgree(t *testing.T) {
	e := sharedEnv()
	for _, alg := range algs {
		expired := e.claims()
		expired["exp"] = time.Now().Add(-time.Hour).Unix()
		otherAud := e.claims()
		otherAud["aud"] = "https://other.example"
		otherIss := e.claims()
		otherIss["iss"] = "https://evil.example"
		good := e.sign(alg, e.claims())
		cases := []struct {
			name   string
			token  string
			accept bool
			floor  bool // whether the bare signature check sees the problem
		}{
			{"valid", good, true, true},
			{"tampered", good[:len(good)-8] + "AAAAAAAA", false, true},
			{"expired", e.sign(alg, expired), false, false},
			{"other audience", e.sign(alg, otherAud), false, false},
			{"other issuer", e.sign(alg, otherIss), false, false},
		}
		for _, c := range contenders {
			validate := c.setup(t, e, alg)
			for _, tc := range cases {
				if c.name == "floor" && !tc.floor {
					continue
				}
				err := validate(context.Background(), tc.token)
				if (err == nil) != tc.accept {
					t.Errorf("%s %s %s: err = %v", alg, c.name, tc.name, err)
				}
			}
		}
	}
}

// BenchmarkFirstSeen validates a token each contender has not cached:
// accesstoken runs with its verified-token cache off.
func BenchmarkFirstSeen(b *testing.B) {
	e := sharedEnv()
	for _, alg := range algs {
		token := e.sign(alg, e.claims())
		for _, c := range contenders {
			validate := c.setup(b, e, alg)
			ctx := context.Background()
			if err := validate(ctx, token); err != nil {
				b.Fatalf("%s %s: %v", alg, c.name, err)
			}
			serialAndParallel(b, alg+"/"+c.name, func() error { return validate(ctx, token) })
		}
	}
}

// serialAndParallel runs f as benchmark name and, on every core,
// name/parallel.
func serialAndParallel(b *testing.B, name string, f func() error) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRepeated validates the same token again and again, as an API does
// for a client reusing its token: accesstoken answers from its
// verified-token cache (exp/nbf still checked), the others verify anew.
func BenchmarkRepeated(b *testing.B) {
	e := sharedEnv()
	for _, alg := range algs {
		token := e.sign(alg, e.claims())
		cached := newAccesstoken(b, e, alg, 0)
		multi := newMultiIssuer(b, e, alg, 0)
		repeatContenders := map[string]func(context.Context, string) error{
			"accesstoken": func(ctx context.Context, tok string) error {
				_, err := cached.Validate(ctx, tok)
				return err
			},
			"accesstoken-multi": func(ctx context.Context, tok string) error {
				_, err := multi.Validate(ctx, tok)
				return err
			},
			"golang-jwt+keyfunc": setupGolangJWT(b, e, alg),
		}
		for _, name := range []string{"accesstoken", "accesstoken-multi", "golang-jwt+keyfunc"} {
			validate := repeatContenders[name]
			ctx := context.Background()
			if err := validate(ctx, token); err != nil {
				b.Fatal(err)
			}
			serialAndParallel(b, alg+"/"+name, func() error { return validate(ctx, token) })
		}
	}
}
