package accesstoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// This file holds a raw issuer for the package's internal tests: a real
// HTTP server publishing a JWKS of keys the test holds, so that tests can
// sign any header and payload bytes, hostile ones included, with a valid
// signature. The public test kit (accesstokentest) cannot write duplicate
// JSON members or odd encodings, by design.

type testKeys struct {
	rsa  *rsa.PrivateKey
	p256 *ecdsa.PrivateKey
	p384 *ecdsa.PrivateKey
	p521 *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
}

var sharedTestKeys = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	k.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.p521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid, "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func ecJWK(kid string, pub *ecdsa.PublicKey, extra map[string]any) map[string]any {
	size := (pub.Curve.Params().BitSize + 7) / 8
	m := map[string]any{"kty": "EC", "kid": kid, "crv": pub.Curve.Params().Name,
		"x": b64(pub.X.FillBytes(make([]byte, size))), "y": b64(pub.Y.FillBytes(make([]byte, size)))}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func edJWK(kid string, pub ed25519.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(pub)}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// defaultJWKS publishes the shared keys under kids "rsa", "p256", "p384",
// "p521" and "ed".
func defaultJWKS() []byte {
	k := sharedTestKeys()
	return mustJSON(map[string]any{"keys": []any{
		rsaJWK("rsa", &k.rsa.PublicKey, map[string]any{"use": "sig"}),
		ecJWK("p256", &k.p256.PublicKey, map[string]any{"alg": "ES256"}),
		ecJWK("p384", &k.p384.PublicKey, nil),
		ecJWK("p521", &k.p521.PublicKey, nil),
		edJWK("ed", k.ed.Public().(ed25519.PublicKey), nil),
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// rawIssuer is an httptest server publishing metadata and a JWKS that tests
// can replace, break or slow down while it runs.
type rawIssuer struct {
	srv      *httptest.Server
	jwks     atomic.Pointer[[]byte]
	status   atomic.Int32 // HTTP status for the JWKS; 0 means 200
	delay    atomic.Int64 // nanoseconds to wait before answering the JWKS
	cacheCtl atomic.Pointer[string]
	hits     atomic.Int32 // JWKS requests served
	// snapshot makes the JWKS handler read its document when the request
	// arrives, before the delay, as a server answering from a snapshot does.
	snapshot atomic.Bool
	fetches  chan time.Time // when set, gets the arrival time of each JWKS request
}

func newRawIssuer(t testing.TB) *rawIssuer {
	t.Helper()
	ri := &rawIssuer{}
	ri.setJWKS(defaultJWKS())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Write(mustJSON(map[string]any{"issuer": ri.srv.URL, "jwks_uri": ri.srv.URL + "/jwks"}))
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		ri.hits.Add(1)
		if ri.fetches != nil {
			ri.fetches <- time.Now()
		}
		doc := *ri.jwks.Load()
		if d := time.Duration(ri.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if st := ri.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		if cc := ri.cacheCtl.Load(); cc != nil {
			w.Header().Set("Cache-Control", *cc)
		}
		if !ri.snapshot.Load() {
			doc = *ri.jwks.Load()
		}
		w.Write(doc)
	})
	ri.srv = httptest.NewServer(mux)
	t.Cleanup(ri.srv.Close)
	return ri
}

func (ri *rawIssuer) setJWKS(doc []byte) { ri.jwks.Store(&doc) }

// config is a Config for this issuer with audience "api".
func (ri *rawIssuer) config() Config {
	return Config{Issuer: ri.srv.URL, Audience: []string{"api"}}
}

// validator starts a Validator for ri, lets edit adjust the config, and
// waits for the first key fetch.
func (ri *rawIssuer) validator(t testing.TB, edit func(*Config)) *Validator {
	t.Helper()
	return startValidator(t, ri.config(), edit)
}

// startValidator starts a Validator for cfg with StrictStart, lets edit
// adjust cfg first, and closes it when t ends.
func startValidator(t testing.TB, cfg Config, edit func(*Config)) *Validator {
	t.Helper()
	cfg.StrictStart = true
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// claims returns a good payload for ri as a map the test may edit.
func (ri *rawIssuer) claims() map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": ri.srv.URL, "aud": "api", "sub": "alice", "exp": now + 600, "iat": now, "scope": "read write"}
}

// signRaw signs exactly the given header and payload bytes with the shared
// key that fits alg.
func signRaw(alg string, header, payload []byte) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + b64(signInput(alg, []byte(input)))
}

func signInput(alg string, input []byte) []byte {
	k := sharedTestKeys()
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	h := hashes[alg[len(alg)-3:]]
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write(input)
		digest = d.Sum(nil)
	}
	ecSign := func(priv *ecdsa.PrivateKey) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
		if err != nil {
			panic(err)
		}
		size := (priv.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	}
	var sig []byte
	var err error
	switch alg {
	case "RS256", "RS384", "RS512":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, h, digest)
	case "PS256", "PS384", "PS512":
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		sig = ecSign(k.p256)
	case "ES384":
		sig = ecSign(k.p384)
	case "ES512":
		sig = ecSign(k.p521)
	case "EdDSA":
		sig = ed25519.Sign(k.ed, input)
	default:
		panic(fmt.Sprintf("signInput: no key for %q", alg))
	}
	if err != nil {
		panic(err)
	}
	return sig
}

// kidFor is the kid defaultJWKS gives the key that signs alg.
func kidFor(alg string) string {
	switch alg[:2] {
	case "RS", "PS":
		return "rsa"
	case "Ed":
		return "ed"
	}
	return map[string]string{"ES256": "p256", "ES384": "p384", "ES512": "p521"}[alg]
}

// mint signs claims with alg under the matching kid and typ "at+jwt".
func mint(alg string, claims map[string]any) string {
	header := map[string]any{"alg": alg, "kid": kidFor(alg), "typ": "at+jwt"}
	return signRaw(alg, mustJSON(header), mustJSON(claims))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// otherKey is an RSA key the issuer never published: an attacker's.
type otherKey struct {
	priv *rsa.PrivateKey
	jwk  map[string]any
}

var sharedAttackerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newRawIssuerKeys(t testing.TB) *otherKey {
	k := sharedAttackerKey()
	return &otherKey{priv: k, jwk: rsaJWK("attacker", &k.PublicKey, nil)}
}

func (o *otherKey) sign(input []byte) []byte {
	d := sha256.Sum256(input)
	sig, err := rsa.SignPKCS1v15(rand.Reader, o.priv, crypto.SHA256, d[:])
	if err != nil {
		panic(err)
	}
	return sig
}

// derECDSA re-encodes a JWS r||s signature as ASN.1 DER.
func derECDSA(raw []byte) []byte {
	n := len(raw) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
	if err != nil {
		panic(err)
	}
	return der
}

// signPSSMaxSalt signs PS256 with the longest salt the key allows.
func signPSSMaxSalt(t testing.TB, input []byte) []byte {
	d := sha256.Sum256(input)
	sig, err := rsa.SignPSS(rand.Reader, sharedTestKeys().rsa, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// checkGolden compares got with the golden file testdata/name, and rewrites
// the file instead when the test runs with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; run with -update after checking):\n%s", path, diff)
	}
}
