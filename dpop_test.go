package accesstoken

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

const apiURL = "https://api.example/orders"

// dpopFixture is an authorization server, a client DPoP key and a token
// bound to it, and a validator accepting DPoP.
type dpopFixture struct {
	as    *accesstokentest.Server
	key   *accesstokentest.DPoPKey
	token string
	v     *Validator
}

func newDPoPFixture(t *testing.T, edit func(*Config)) *dpopFixture {
	t.Helper()
	f := &dpopFixture{as: accesstokentest.NewServer(), key: accesstokentest.NewDPoPKey("ES256")}
	t.Cleanup(f.as.Close)
	f.token = f.as.Token(map[string]any{"sub": "alice"}, accesstokentest.WithDPoPKey(f.key))
	f.v = f.validator(t, edit)
	return f
}

func (f *dpopFixture) validator(t *testing.T, edit func(*Config)) *Validator {
	t.Helper()
	cfg := Config{Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true, DPoP: &DPoPConfig{}}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// request is a DPoP request for GET apiURL with a fresh proof.
func (f *dpopFixture) request(opts ...accesstokentest.ProofOption) *Request {
	opts = append([]accesstokentest.ProofOption{accesstokentest.WithAccessToken(f.token)}, opts...)
	return &Request{Scheme: "DPoP", Token: f.token, DPoPProof: f.key.Proof("GET", apiURL, opts...), Method: "GET", URL: apiURL}
}

func TestDPoPProofChecks(t *testing.T) {
	f := newDPoPFixture(t, func(c *Config) { c.Leeway = 5 * time.Second })
	other := accesstokentest.NewDPoPKey("ES256")
	rsaKey := accesstokentest.NewDPoPKey("RS256")
	now := time.Now()
	edit := func(change func(r *Request)) *Request {
		r := f.request()
		change(r)
		return r
	}
	otherJWK := func() any { // the public JWK of another key, from one of its proofs
		return jwkOf(other.Proof("GET", apiURL))
	}
	badProof := result{ErrInvalidDPoPProof, descDPoPProof}
	tests := []struct {
		name string
		r    *Request
		want result
	}{
		{"valid", f.request(), accepted},
		{"scheme in lower case", edit(func(r *Request) { r.Scheme = "dpop" }), accepted},
		{"typ with application/ prefix", f.request(accesstokentest.WithProofHeader("typ", "application/dpop+jwt")), accepted},
		{"htu with query and fragment", edit(func(r *Request) {
			r.DPoPProof = f.key.Proof("GET", apiURL+"?page=2#top", accesstokentest.WithAccessToken(f.token))
		}), accepted},
		{"htu with upper-case host and default port", edit(func(r *Request) {
			r.DPoPProof = f.key.Proof("GET", "HTTPS://API.Example:443/orders", accesstokentest.WithAccessToken(f.token))
		}), accepted},
		{"request URL with default port", edit(func(r *Request) { r.URL = "https://api.example:443/orders?x=1" }), accepted},
		{"iat within leeway in the future", f.request(accesstokentest.WithIssuedAt(now.Add(4 * time.Second))), accepted},
		{"iat at MaxAge plus leeway", f.request(accesstokentest.WithIssuedAt(now.Add(-time.Minute - 3*time.Second))), accepted},

		{"no proof", edit(func(r *Request) { r.DPoPProof = "" }), badProof},
		{"two proofs in one", edit(func(r *Request) { r.DPoPProof += ", " + f.request().DPoPProof }), badProof},
		{"proof over 8 KiB", f.request(accesstokentest.WithProofClaim("pad", strings.Repeat("a", 8<<10))), badProof},
		{"not a JWS", edit(func(r *Request) { r.DPoPProof = "not-a-jws" }), badProof},
		{"padded base64", edit(func(r *Request) { r.DPoPProof += "=" }), badProof},
		{"typ missing", f.request(accesstokentest.WithProofHeader("typ", nil)), badProof},
		{"typ JWT", f.request(accesstokentest.WithProofHeader("typ", "JWT")), badProof},
		{"alg none", f.request(accesstokentest.WithProofHeader("alg", "none")), badProof},
		{"alg HS256", f.request(accesstokentest.WithProofHeader("alg", "HS256")), badProof},
		{"alg of another key type", f.request(accesstokentest.WithProofHeader("alg", "RS256")), badProof},
		{"crit", f.request(accesstokentest.WithProofHeader("crit", []string{"exp"})), badProof},
		{"jwk missing", f.request(accesstokentest.WithProofHeader("jwk", nil)), badProof},
		{"jwk with private member", f.request(accesstokentest.WithProofHeader("jwk", withMember(jwkOf(f.request().DPoPProof), "d", "AAAA"))), badProof},
		{"jwk of another key", f.request(accesstokentest.WithProofHeader("jwk", otherJWK())), badProof},
		{"jwk symmetric", f.request(accesstokentest.WithProofHeader("jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"})), badProof},
		{"tampered payload", edit(func(r *Request) {
			parts := strings.Split(r.DPoPProof, ".")
			parts[1] = b64(mustJSON(map[string]any{"jti": "x", "htm": "GET", "htu": apiURL, "iat": now.Unix()}))
			r.DPoPProof = strings.Join(parts, ".")
		}), badProof},
		{"htm POST", edit(func(r *Request) { r.Method = "POST" }), badProof},
		{"htm lower case", f.request(accesstokentest.WithProofClaim("htm", "get")), badProof},
		{"htu other path", f.request(accesstokentest.WithProofClaim("htu", "https://api.example/admin")), badProof},
		{"htu path case", f.request(accesstokentest.WithProofClaim("htu", "https://api.example/Orders")), badProof},
		{"htu other host", f.request(accesstokentest.WithProofClaim("htu", "https://evil.example/orders")), badProof},
		{"htu http for https", f.request(accesstokentest.WithProofClaim("htu", "http://api.example/orders")), badProof},
		{"htu not a string", f.request(accesstokentest.WithProofClaim("htu", 7)), badProof},
		{"iat too old", f.request(accesstokentest.WithIssuedAt(now.Add(-2 * time.Minute))), badProof},
		{"iat in the future", f.request(accesstokentest.WithIssuedAt(now.Add(time.Minute))), badProof},
		{"iat missing", f.request(accesstokentest.WithProofClaim("iat", nil)), badProof},
		{"jti missing", f.request(accesstokentest.WithProofClaim("jti", nil)), badProof},
		{"jti empty", f.request(accesstokentest.WithJTI("")), badProof},
		{"ath missing", f.request(accesstokentest.WithProofClaim("ath", nil)), badProof},
		{"ath of another token", f.request(accesstokentest.WithAccessToken(f.as.Token(nil))), badProof},

		{"proof by a key the token is not bound to", edit(func(r *Request) {
			r.DPoPProof = other.Proof("GET", apiURL, accesstokentest.WithAccessToken(f.token))
		}), result{ErrInvalidToken, descKeyMismatch}},
		{"RSA proof key, token bound to EC", edit(func(r *Request) {
			r.DPoPProof = rsaKey.Proof("GET", apiURL, accesstokentest.WithAccessToken(f.token))
		}), result{ErrInvalidToken, descKeyMismatch}},
		{"DPoP-bound token under Bearer", edit(func(r *Request) { r.Scheme = "Bearer"; r.DPoPProof = "" }), result{ErrInvalidToken, descDPoPBound}},
		{"DPoP-bound token under Bearer, with proof", edit(func(r *Request) { r.Scheme = "Bearer" }), result{ErrInvalidToken, descDPoPBound}},
		{"DPoP scheme, unbound token", func() *Request {
			tok := f.as.Token(nil)
			return &Request{Scheme: "DPoP", Token: tok, DPoPProof: f.key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok)), Method: "GET", URL: apiURL}
		}(), result{ErrInvalidToken, descNotDPoPBound}},
		{"cnf with no supported member", func() *Request {
			tok := f.as.Token(map[string]any{"cnf": map[string]any{"kid": "k1"}})
			return &Request{Token: tok}
		}(), result{ErrInvalidToken, descCnfUnknown}},
		{"scheme Basic", edit(func(r *Request) { r.Scheme = "Basic" }), result{ErrInvalidRequest, descScheme}},
		{"no token", &Request{Scheme: "DPoP"}, result{ErrNoToken, ""}},
		{"expired bound token", func() *Request {
			tok := f.as.Token(nil, accesstokentest.WithDPoPKey(f.key), accesstokentest.WithExpiry(-time.Minute))
			return &Request{Scheme: "DPoP", Token: tok, DPoPProof: f.key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok)), Method: "GET", URL: apiURL}
		}(), result{ErrInvalidToken, descExpired}},
		{"unbound bearer token", &Request{Token: f.as.Token(nil)}, accepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.v.ValidateRequest(context.Background(), tt.r)
			checkResult(t, c, err, tt.want)
		})
	}
	// Checks that a later rule would also catch are pinned by their cause,
	// so that each one is tested on its own.
	causes := []struct {
		name  string
		r     *Request
		cause string
	}{
		{"iat missing", f.request(accesstokentest.WithProofClaim("iat", nil)), "no iat"},
		{"ath missing", f.request(accesstokentest.WithProofClaim("ath", nil)), "no ath"},
		{"jwk of another type than alg", f.request(accesstokentest.WithProofHeader("alg", "EdDSA")), "does not fit alg"},
		{"two proofs", edit(func(r *Request) { r.DPoPProof += "," + f.request().DPoPProof }), "two DPoP header fields"},
	}
	for _, tt := range causes {
		_, err := f.v.ValidateRequest(context.Background(), tt.r)
		if e := AsError(err); e == nil || e.Err == nil || !strings.Contains(e.Err.Error(), tt.cause) {
			t.Errorf("%s: cause %v, want %q", tt.name, err, tt.cause)
		}
	}
}

func jwkOf(proof string) map[string]any {
	header, _, _ := strings.Cut(proof, ".")
	raw, _ := strictB64.DecodeString(header)
	var h struct {
		JWK map[string]any `json:"jwk"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		panic(err)
	}
	return h.JWK
}

func withMember(m map[string]any, name string, value any) map[string]any {
	out := map[string]any{name: value}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestDPoPReplay(t *testing.T) {
	f := newDPoPFixture(t, nil)
	r := f.request()
	if _, err := f.v.ValidateRequest(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	c, err := f.v.ValidateRequest(context.Background(), r)
	checkResult(t, c, err, result{ErrInvalidDPoPProof, descDPoPProof})
	// The same jti from another key is another proof.
	other := accesstokentest.NewDPoPKey("EdDSA")
	tok := f.as.Token(nil, accesstokentest.WithDPoPKey(other))
	jti := "shared-jti"
	for i, key := range []*accesstokentest.DPoPKey{f.key, other} {
		token := []string{f.token, tok}[i]
		r := &Request{Scheme: "DPoP", Token: token, Method: "GET", URL: apiURL,
			DPoPProof: key.Proof("GET", apiURL, accesstokentest.WithAccessToken(token), accesstokentest.WithJTI(jti))}
		if _, err := f.v.ValidateRequest(context.Background(), r); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}

// failingReplay is a ReplayCache that cannot answer.
type failingReplay struct{ calls atomic.Int32 }

func (c *failingReplay) Remember(context.Context, string, time.Time) (bool, error) {
	c.calls.Add(1)
	return false, errors.New("store down")
}

// slowReplay never answers before its context ends.
type slowReplay struct{}

func (slowReplay) Remember(ctx context.Context, _ string, _ time.Time) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func TestDPoPReplayCacheFailsClosed(t *testing.T) {
	fr := &failingReplay{}
	f := newDPoPFixture(t, func(c *Config) { c.DPoP.Replay = fr })
	_, err := f.v.ValidateRequest(context.Background(), f.request())
	if !errors.Is(err, ErrUnavailable) || fr.calls.Load() != 1 {
		t.Fatalf("replay cache down: %v (calls %d), want ErrUnavailable", err, fr.calls.Load())
	}
	slow := f.validator(t, func(c *Config) { c.DPoP.Replay = slowReplay{} })
	_, err = slow.ValidateRequest(context.Background(), f.request())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("replay cache hanging: %v, want ErrUnavailable", err)
	}
	// A rejected proof is not recorded.
	_, err = f.v.ValidateRequest(context.Background(), f.request(accesstokentest.WithProofClaim("htm", "POST")))
	if !errors.Is(err, ErrInvalidDPoPProof) || fr.calls.Load() != 1 {
		t.Fatalf("bad proof: %v, calls %d", err, fr.calls.Load())
	}
}

func TestMemoryReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newMemoryReplay(3, func() time.Time { return now })
	remember := func(key string, ttl time.Duration) (bool, error) {
		return c.Remember(context.Background(), key, now.Add(ttl))
	}
	for _, k := range []string{"a", "b", "c"} {
		if fresh, err := remember(k, time.Minute); !fresh || err != nil {
			t.Fatalf("%s: %v %v", k, fresh, err)
		}
	}
	if fresh, err := remember("a", time.Minute); fresh || err != nil {
		t.Fatalf("a again: fresh %v, err %v", fresh, err)
	}
	if _, err := remember("d", time.Minute); !errors.Is(err, errReplayFull) {
		t.Fatalf("full: %v, want errReplayFull", err)
	}
	now = now.Add(61 * time.Second) // all expired: room again, and "a" is new
	if fresh, err := remember("a", time.Minute); !fresh || err != nil {
		t.Fatalf("a after expiry: %v %v", fresh, err)
	}
	if n := c.len(); n != 1 {
		t.Fatalf("%d entries after expiry, want 1", n)
	}
}

func TestDPoPNonces(t *testing.T) {
	// The frozen clock runs a little ahead: the fixture's token, minted
	// after this line, must never look issued in the future (a flake when a
	// second boundary fell in between).
	now := time.Now().Add(2 * time.Second)
	clock := func() time.Time { return now }
	secret := []byte(strings.Repeat("n", 32))
	f := newDPoPFixture(t, func(c *Config) { c.Now = clock; c.DPoP.Nonces = true; c.DPoP.NonceSecret = secret })
	replica := f.validator(t, func(c *Config) { c.Now = clock; c.DPoP.Nonces = true; c.DPoP.NonceSecret = secret })
	stranger := f.validator(t, func(c *Config) { c.Now = clock; c.DPoP.Nonces = true })

	_, err := f.v.ValidateRequest(context.Background(), f.request())
	checkResult(t, nil, err, result{ErrUseDPoPNonce, descDPoPNonce})
	nonce := AsError(err).DPoPNonce
	if nonce == "" || nonce != f.v.DPoPNonce() {
		t.Fatalf("nonce %q, DPoPNonce() %q", nonce, f.v.DPoPNonce())
	}
	for i := range 2 { // reusable
		if _, err := f.v.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(nonce))); err != nil {
			t.Fatalf("use %d of the nonce: %v", i, err)
		}
	}
	if _, err := replica.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(nonce))); err != nil {
		t.Fatalf("replica sharing the secret: %v", err)
	}
	_, err = stranger.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(nonce)))
	checkResult(t, nil, err, result{ErrUseDPoPNonce, descDPoPNonce})
	for _, bad := range []string{"made-up", nonce[:len(nonce)-2] + "AA", ""} {
		_, err := f.v.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(bad)))
		checkResult(t, nil, err, result{ErrUseDPoPNonce, descDPoPNonce})
	}
	// A nonce lives at least one window, at most two.
	now = now.Add(nonceWindow)
	if _, err := f.v.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(nonce), accesstokentest.WithIssuedAt(now))); err != nil {
		t.Fatalf("nonce one window later: %v", err)
	}
	now = now.Add(nonceWindow + time.Second)
	_, err = f.v.ValidateRequest(context.Background(), f.request(accesstokentest.WithNonce(nonce), accesstokentest.WithIssuedAt(now)))
	checkResult(t, nil, err, result{ErrUseDPoPNonce, descDPoPNonce})
	if AsError(err).DPoPNonce == nonce {
		t.Fatal("an expired nonce was handed out again")
	}
	// Other rejections carry the current nonce too, for the DPoP-Nonce header.
	_, err = f.v.ValidateRequest(context.Background(), &Request{Token: "garbage"})
	if got := AsError(err).DPoPNonce; got != f.v.DPoPNonce() {
		t.Fatalf("nonce on an invalid_token answer: %q", got)
	}
}

func TestDPoPRequired(t *testing.T) {
	f := newDPoPFixture(t, func(c *Config) { c.DPoP.Required = true })
	c, err := f.v.ValidateRequest(context.Background(), &Request{Token: f.as.Token(nil)})
	checkResult(t, c, err, result{ErrInvalidToken, descBearerRefused})
	if _, err := f.v.ValidateRequest(context.Background(), f.request()); err != nil {
		t.Fatal(err)
	}
}

func TestDPoPAlgorithms(t *testing.T) {
	f := newDPoPFixture(t, func(c *Config) { c.DPoP.Algorithms = []string{"EdDSA"} })
	_, err := f.v.ValidateRequest(context.Background(), f.request())
	checkResult(t, nil, err, result{ErrInvalidDPoPProof, descDPoPProof})
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"} {
		key := accesstokentest.NewDPoPKey(alg)
		tok := f.as.Token(nil, accesstokentest.WithDPoPKey(key))
		r := &Request{Scheme: "DPoP", Token: tok, Method: "GET", URL: apiURL, DPoPProof: key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok))}
		v := f.validator(t, nil) // default list
		if _, err := v.ValidateRequest(context.Background(), r); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	for _, bad := range [][]string{{"HS256"}, {"none"}, {}} {
		_, err := NewValidator(context.Background(), Config{Issuer: f.as.Issuer(), Audience: []string{"x"}, DPoP: &DPoPConfig{Algorithms: bad}})
		if err == nil {
			t.Errorf("DPoPConfig.Algorithms %q accepted", bad)
		}
	}
	_, err = NewValidator(context.Background(), Config{Issuer: f.as.Issuer(), Audience: []string{"x"}, DPoP: &DPoPConfig{NonceSecret: []byte("short")}})
	if err == nil || !strings.Contains(err.Error(), "NonceSecret") {
		t.Errorf("short NonceSecret: %v", err)
	}
}

func TestDPoPOff(t *testing.T) {
	f := newDPoPFixture(t, func(c *Config) { c.DPoP = nil })
	c, err := f.v.ValidateRequest(context.Background(), f.request())
	checkResult(t, c, err, result{ErrInvalidToken, descDPoPOff})
	// A bound token is still refused by Validate, DPoP or not.
	for _, v := range []*Validator{f.v, f.validator(t, nil)} {
		_, err := v.Validate(context.Background(), f.token)
		checkResult(t, nil, err, result{ErrInvalidToken, descBound})
	}
}

func TestCertificateBound(t *testing.T) {
	f := newDPoPFixture(t, nil)
	cert := accesstokentest.NewClientCertificate("client-a").Leaf
	otherCert := accesstokentest.NewClientCertificate("client-a").Leaf
	certTok := f.as.Token(nil, accesstokentest.WithCertificate(cert))
	both := f.as.Token(nil, accesstokentest.WithCertificate(cert), accesstokentest.WithDPoPKey(f.key))
	dpopReq := func(tok string, c *Request) *Request {
		c.Scheme, c.Token, c.Method, c.URL = "DPoP", tok, "GET", apiURL
		c.DPoPProof = f.key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok))
		return c
	}
	noDPoP := f.validator(t, func(c *Config) { c.DPoP = nil })
	tests := []struct {
		name string
		v    *Validator
		r    *Request
		want result
	}{
		{"matching certificate", f.v, &Request{Token: certTok, ClientCertificate: cert}, accepted},
		{"matching certificate, DPoP off", noDPoP, &Request{Token: certTok, ClientCertificate: cert}, accepted},
		{"no certificate", f.v, &Request{Token: certTok}, result{ErrInvalidToken, descCertMismatch}},
		{"another certificate", f.v, &Request{Token: certTok, ClientCertificate: otherCert}, result{ErrInvalidToken, descCertMismatch}},
		{"both bindings, both proven", f.v, dpopReq(both, &Request{ClientCertificate: cert}), accepted},
		{"both bindings, no certificate", f.v, dpopReq(both, &Request{}), result{ErrInvalidToken, descCertMismatch}},
		{"both bindings, Bearer", f.v, &Request{Token: both, ClientCertificate: cert}, result{ErrInvalidToken, descDPoPBound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.ValidateRequest(context.Background(), tt.r)
			checkResult(t, c, err, tt.want)
		})
	}
	_, err := f.v.Validate(context.Background(), certTok)
	checkResult(t, nil, err, result{ErrInvalidToken, descBound})
}

// TestDPoPIntrospected: an opaque token whose introspection answer binds it
// to a DPoP key is checked the same way.
func TestDPoPIntrospected(t *testing.T) {
	f := newDPoPFixture(t, func(c *Config) {
		c.Introspection = &IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret}
	})
	opaque := f.as.OpaqueToken(map[string]any{"cnf": map[string]any{"jkt": f.key.Thumbprint()}})
	r := &Request{Scheme: "DPoP", Token: opaque, Method: "GET", URL: apiURL, DPoPProof: f.key.Proof("GET", apiURL, accesstokentest.WithAccessToken(opaque))}
	c, err := f.v.ValidateRequest(context.Background(), r)
	checkResult(t, c, err, accepted)
	if !c.Introspected {
		t.Error("not introspected")
	}
	_, err = f.v.Validate(context.Background(), opaque)
	checkResult(t, nil, err, result{ErrInvalidToken, descBound})
	_, err = f.v.ValidateRequest(context.Background(), &Request{Token: opaque})
	checkResult(t, nil, err, result{ErrInvalidToken, descDPoPBound})
}

// TestThumbprint checks the core's RFC 7638 thumbprint against the test
// kit's, which is computed from the JWK members, and against RFC 7638
// §3.1's example.
func TestThumbprint(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "EdDSA"} {
		key := accesstokentest.NewDPoPKey(alg)
		k, err := parseJWK(mustJSON(jwkOf(key.Proof("GET", apiURL))), map[string]*algorithm{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(key.Thumbprint(), thumbprint(k)); diff != "" {
			t.Errorf("%s (-kit +core):\n%s", alg, diff)
		}
	}
	rfc := `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	k, err := parseJWK([]byte(rfc), map[string]*algorithm{"RS256": supportedAlgorithms()[0]})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := thumbprint(k), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("RFC 7638 example: %s, want %s", got, want)
	}
}

func TestTargetURI(t *testing.T) {
	tests := []struct {
		htu, target string
		same        bool
	}{
		{"https://a.example/p", "https://a.example/p", true},
		{"https://A.EXAMPLE/p", "https://a.example/p", true},
		{"HTTPS://a.example/p", "https://a.example/p", true},
		{"https://a.example:443/p", "https://a.example/p", true},
		{"http://a.example:80/p", "http://a.example/p", true},
		{"https://a.example", "https://a.example/", true},
		{"https://a.example/p?q=1#f", "https://a.example/p", true},
		{"https://[::1]:443/p", "https://[::1]/p", true},
		{"https://a.example:8443/p", "https://a.example:8443/p", true},
		{"https://a.example:8443/p", "https://a.example/p", false},
		{"http://a.example/p", "https://a.example/p", false},
		{"https://a.example/P", "https://a.example/p", false},
		{"https://a.example/p/", "https://a.example/p", false},
		{"https://a.example/a%2Fb", "https://a.example/a/b", false},
		{"https://user@a.example/p", "https://a.example/p", false},
		{"/p", "https://a.example/p", false},
		{"ftp://a.example/p", "ftp://a.example/p", false},
		{"https://a.example/p", "", false},
	}
	for _, tt := range tests {
		if got := sameTargetURI(tt.htu, tt.target); got != tt.same {
			t.Errorf("sameTargetURI(%q, %q) = %v", tt.htu, tt.target, got)
		}
	}
}

// TestDPoPStrictProofJSON signs proofs whose JSON the test kit cannot write:
// duplicate members are refused in header and payload alike.
func TestDPoPStrictProofJSON(t *testing.T) {
	f := newDPoPFixture(t, nil)
	k := sharedTestKeys()
	jwk := string(mustJSON(ecJWK("", &k.p256.PublicKey, nil)))
	jkt := thumbprint(&verificationKey{public: &k.p256.PublicKey})
	tok := f.as.Token(map[string]any{"cnf": map[string]any{"jkt": jkt}})
	sum := sha256.Sum256([]byte(tok))
	ath := b64(sum[:])
	iat := time.Now().Unix()
	payload := sprintf(`{"jti":"%s","htm":"GET","htu":"%s","iat":%d,"ath":"%s"}`, "j1", apiURL, iat, ath)
	tests := []struct {
		name            string
		header, payload string
		want            result
	}{
		{"well formed", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`, payload, accepted},
		{"duplicate htm", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`,
			sprintf(`{"jti":"j2","htm":"POST","htm":"GET","htu":"%s","iat":%d,"ath":"%s"}`, apiURL, iat, ath), result{ErrInvalidDPoPProof, descDPoPProof}},
		{"duplicate jti", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`,
			sprintf(`{"jti":"j3","jti":"j4","htm":"GET","htu":"%s","iat":%d,"ath":"%s"}`, apiURL, iat, ath), result{ErrInvalidDPoPProof, descDPoPProof}},
		{"duplicate typ", `{"typ":"JWT","typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`,
			sprintf(`{"jti":"j5","htm":"GET","htu":"%s","iat":%d,"ath":"%s"}`, apiURL, iat, ath), result{ErrInvalidDPoPProof, descDPoPProof}},
		{"duplicate member in jwk", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + strings.Replace(jwk, `"kty":"EC"`, `"kty":"EC","kty":"EC"`, 1) + `}`,
			sprintf(`{"jti":"j6","htm":"GET","htu":"%s","iat":%d,"ath":"%s"}`, apiURL, iat, ath), result{ErrInvalidDPoPProof, descDPoPProof}},
		{"iat as a string", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`,
			sprintf(`{"jti":"j7","htm":"GET","htu":"%s","iat":"%d","ath":"%s"}`, apiURL, iat, ath), result{ErrInvalidDPoPProof, descDPoPProof}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof := signRaw("ES256", []byte(tt.header), []byte(tt.payload))
			r := &Request{Scheme: "DPoP", Token: tok, DPoPProof: proof, Method: "GET", URL: apiURL}
			c, err := f.v.ValidateRequest(context.Background(), r)
			checkResult(t, c, err, tt.want)
		})
	}
}
