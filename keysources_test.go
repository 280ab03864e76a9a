package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestAmbiguousKIDs: a kid naming two different keys that could verify one
// algorithm is dropped with its keys; the rest of the document is used.
func TestAmbiguousKIDs(t *testing.T) {
	k := sharedTestKeys()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed2, _ := ed25519.GenerateKey(rand.Reader)
	edPub := k.ed.Public().(ed25519.PublicKey)
	algs, _ := allowList(nil, false)
	tests := []struct {
		name      string
		keys      []any
		kept      []string // kid/alg of the keys kept, in document order
		ambiguous []string
	}{
		{"two RSA keys, one kid", []any{rsaJWK("a", &k.rsa.PublicKey, nil), rsaJWK("a", &other.PublicKey, nil), ecJWK("b", &k.p256.PublicKey, nil)},
			[]string{"b/"}, []string{"a"}},
		{"RSA and EC under one kid", []any{rsaJWK("a", &k.rsa.PublicKey, nil), ecJWK("a", &k.p256.PublicKey, nil)},
			[]string{"a/", "a/"}, nil},
		{"P-256 and P-384 under one kid", []any{ecJWK("a", &k.p256.PublicKey, nil), ecJWK("a", &k.p384.PublicKey, nil)},
			[]string{"a/", "a/"}, nil},
		{"two P-256 keys", []any{ecJWK("a", &k.p256.PublicKey, nil), ecJWK("a", &p256b.PublicKey, nil)},
			nil, []string{"a"}},
		{"RS256- and PS256-labelled RSA keys", []any{rsaJWK("a", &k.rsa.PublicKey, map[string]any{"alg": "RS256"}), rsaJWK("a", &other.PublicKey, map[string]any{"alg": "PS256"})},
			[]string{"a/RS256", "a/PS256"}, nil},
		{"labelled and unlabelled RSA keys", []any{rsaJWK("a", &k.rsa.PublicKey, map[string]any{"alg": "RS256"}), rsaJWK("a", &other.PublicKey, nil)},
			nil, []string{"a"}},
		{"identical duplicates count once", []any{rsaJWK("a", &k.rsa.PublicKey, nil), rsaJWK("a", &k.rsa.PublicKey, nil)},
			[]string{"a/"}, nil},
		{"same key, two labels", []any{rsaJWK("a", &k.rsa.PublicKey, map[string]any{"alg": "RS256"}), rsaJWK("a", &k.rsa.PublicKey, map[string]any{"alg": "PS256"})},
			[]string{"a/RS256", "a/PS256"}, nil},
		{"EdDSA and Ed25519 labels, two keys", []any{edJWK("a", edPub, map[string]any{"alg": "EdDSA"}), edJWK("a", ed2.Public().(ed25519.PublicKey), map[string]any{"alg": "Ed25519"})},
			nil, []string{"a"}},
		{"keys without kid", []any{rsaJWK("", &k.rsa.PublicKey, nil), rsaJWK("", &other.PublicKey, nil)},
			[]string{"/", "/"}, nil},
		{"unusable key set aside first", []any{rsaJWK("a", &k.rsa.PublicKey, nil), rsaJWK("a", &other.PublicKey, map[string]any{"use": "enc"})},
			[]string{"a/"}, nil},
		{"a third key of another type survives", []any{rsaJWK("a", &k.rsa.PublicKey, nil), rsaJWK("a", &other.PublicKey, nil), edJWK("a", edPub, nil)},
			[]string{"a/"}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := append(tt.keys, ecJWK("other", &k.p384.PublicKey, nil))
			set, _, ambiguous, err := parseJWKS(mustJSON(map[string]any{"keys": keys}), algs)
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, key := range set.keys {
				if key.kid != "other" {
					kept = append(kept, key.kid+"/"+key.alg)
				}
			}
			if diff := cmp.Diff(tt.kept, kept, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("kept keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ambiguous, ambiguous, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ambiguous kids (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAmbiguousKIDRejectsTokens: end to end, a token under an ambiguous kid
// is invalid_token even though one of the keys would verify it, and a token
// under another kid of the same document is accepted.
func TestAmbiguousKIDRejectsTokens(t *testing.T) {
	k := sharedTestKeys()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ri := newRawIssuer(t)
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{
		rsaJWK("rsa", &other.PublicKey, nil),
		rsaJWK("rsa", &k.rsa.PublicKey, nil),
		ecJWK("p256", &k.p256.PublicKey, nil),
	}}))
	v := ri.validator(t, nil)
	c, err := v.Validate(context.Background(), mint("RS256", ri.claims()))
	checkResult(t, c, err, result{ErrInvalidToken, descUnknownKey})
	c, err = v.Validate(context.Background(), mint("ES256", ri.claims()))
	checkResult(t, c, err, accepted)
}

// TestEd25519AlgorithmName: RFC 9864's "Ed25519" verifies wherever "EdDSA"
// does, either JWK label serves either token alg, and each name in
// Config.Algorithms admits only itself.
func TestEd25519AlgorithmName(t *testing.T) {
	k := sharedTestKeys()
	edPub := k.ed.Public().(ed25519.PublicKey)
	sign := func(alg string, claims map[string]any) string {
		in := b64([]byte(`{"alg":"`+alg+`","kid":"ed"}`)) + "." + b64(mustJSON(claims))
		return in + "." + b64(ed25519.Sign(k.ed, []byte(in)))
	}
	tests := []struct {
		name     string
		jwkAlg   string // "" = none
		allowed  []string
		tokenAlg string
		want     result
	}{
		{"no label, default list, Ed25519", "", nil, "Ed25519", accepted},
		{"no label, default list, EdDSA", "", nil, "EdDSA", accepted},
		{"label EdDSA, token Ed25519", "EdDSA", nil, "Ed25519", accepted},
		{"label Ed25519, token EdDSA", "Ed25519", nil, "EdDSA", accepted},
		{"label Ed25519, token Ed25519", "Ed25519", nil, "Ed25519", accepted},
		{"only EdDSA allowed, token Ed25519", "", []string{"EdDSA"}, "Ed25519", result{ErrInvalidToken, descAlgorithm}},
		{"only Ed25519 allowed, token EdDSA", "", []string{"Ed25519"}, "EdDSA", result{ErrInvalidToken, descAlgorithm}},
		{"only Ed25519 allowed, label EdDSA", "EdDSA", []string{"Ed25519"}, "Ed25519", accepted},
		{"only EdDSA allowed, label Ed25519", "Ed25519", []string{"EdDSA"}, "EdDSA", accepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ri := newRawIssuer(t)
			extra := map[string]any{}
			if tt.jwkAlg != "" {
				extra["alg"] = tt.jwkAlg
			}
			ri.setJWKS(mustJSON(map[string]any{"keys": []any{edJWK("ed", edPub, extra)}}))
			v := ri.validator(t, func(c *Config) { c.Algorithms = tt.allowed })
			c, err := v.Validate(context.Background(), sign(tt.tokenAlg, ri.claims()))
			checkResult(t, c, err, tt.want)
		})
	}
}

func hmacSign(h func() hash.Hash, secret []byte, header string, claims map[string]any) string {
	in := b64([]byte(header)) + "." + b64(mustJSON(claims))
	m := hmac.New(h, secret)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// TestStaticKeys: Config.Keys instead of a JWKS, HMAC secrets and public keys
// mixed, with no request made to anyone.
func TestStaticKeys(t *testing.T) {
	k := sharedTestKeys()
	secret := []byte(strings.Repeat("s", 32))
	secret64 := []byte(strings.Repeat("t", 64))
	rsaDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ri := newRawIssuer(t) // never asked: its hit counter proves it
	cfg := Config{
		Issuer:     "internal-signer", // any string: nothing is discovered
		Audience:   []string{"api"},
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256", "HS512"},
		Keys: map[string]any{
			"rsa":      &k.rsa.PublicKey,
			"p256":     &k.p256.PublicKey,
			"":         k.ed.Public(),
			"hmac":     secret,
			"hmac-512": secret64,
		},
		HTTPClient: ri.srv.Client(),
	}
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	claims := func() map[string]any {
		c := ri.claims()
		c["iss"] = "internal-signer"
		return c
	}
	edNoKID := func() string {
		in := b64([]byte(`{"alg":"EdDSA"}`)) + "." + b64(mustJSON(claims()))
		return in + "." + b64(ed25519.Sign(k.ed, []byte(in)))
	}
	tests := []struct {
		name  string
		token string
		want  result
	}{
		{"RS256 under its kid", signRaw("RS256", []byte(`{"alg":"RS256","kid":"rsa"}`), mustJSON(claims())), accepted},
		{"ES256 under its kid", signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256"}`), mustJSON(claims())), accepted},
		{"no kid uses the empty-kid key", edNoKID(), accepted},
		{"HS256 with the secret", hmacSign(sha256.New, secret, `{"alg":"HS256","kid":"hmac"}`, claims()), accepted},
		{"HS512 with the 64-byte secret", hmacSign(sha512.New, secret64, `{"alg":"HS512","kid":"hmac-512"}`, claims()), accepted},
		{"HS256 with the 64-byte secret", hmacSign(sha256.New, secret64, `{"alg":"HS256","kid":"hmac-512"}`, claims()), accepted},
		{"HS512 with the 32-byte secret", hmacSign(sha512.New, secret, `{"alg":"HS512","kid":"hmac"}`, claims()), result{ErrInvalidToken, descUnknownKey}},
		{"HS256 with a wrong secret", hmacSign(sha256.New, []byte(strings.Repeat("x", 32)), `{"alg":"HS256","kid":"hmac"}`, claims()), result{ErrInvalidToken, descSignature}},
		{"HS256 keyed with the RSA key's DER under its kid", hmacSign(sha256.New, rsaDER, `{"alg":"HS256","kid":"rsa"}`, claims()), result{ErrInvalidToken, descUnknownKey}},
		{"HS256 keyed with the RSA modulus under its kid", hmacSign(sha256.New, k.rsa.N.Bytes(), `{"alg":"HS256","kid":"rsa"}`, claims()), result{ErrInvalidToken, descUnknownKey}},
		{"RS256 under the HMAC kid", signRaw("RS256", []byte(`{"alg":"RS256","kid":"hmac"}`), mustJSON(claims())), result{ErrInvalidToken, descUnknownKey}},
		{"unknown kid", signRaw("RS256", []byte(`{"alg":"RS256","kid":"nope"}`), mustJSON(claims())), result{ErrInvalidToken, descUnknownKey}},
		{"RS256 without kid: only the empty-kid key", signRaw("RS256", []byte(`{"alg":"RS256"}`), mustJSON(claims())), result{ErrInvalidToken, descUnknownKey}},
		{"HS384 not allowed", hmacSign(sha512.New384, secret64, `{"alg":"HS384","kid":"hmac-512"}`, claims()), result{ErrInvalidToken, descAlgorithm}},
		{"other issuer", hmacSign(sha256.New, secret, `{"alg":"HS256","kid":"hmac"}`, ri.claims()), result{ErrInvalidToken, descIssuer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), tt.token)
			checkResult(t, c, err, tt.want)
		})
	}
	if err := v.Refresh(context.Background()); err != nil {
		t.Errorf("Refresh on static keys: %v", err)
	}
	if n := ri.hits.Load(); n != 0 {
		t.Errorf("%d requests made with static keys", n)
	}
	// The caller's secret slice may change later; the validator keeps its copy.
	tok := hmacSign(sha256.New, secret, `{"alg":"HS256","kid":"hmac"}`, claims())
	secret[0] = 'X'
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Errorf("after the caller changed its slice: %v", err)
	}
}

func TestStaticKeysClaims(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	v, err := NewValidator(context.Background(), Config{
		Issuer: "svc-a", Audience: []string{"svc-b"}, Algorithms: []string{"HS256"},
		Keys: map[string]any{"": secret}, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok := hmacSign(sha256.New, secret, `{"alg":"HS256","typ":"JWT"}`, map[string]any{
		"iss": "svc-a", "aud": "svc-b", "sub": "job-7", "scope": "orders:read", "exp": now.Unix() + 60, "iat": now.Unix(),
	})
	c, err := v.Validate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := &Claims{Issuer: "svc-a", Subject: "job-7", Audience: []string{"svc-b"}, Scopes: []string{"orders:read"},
		ExpiresAt: now.Add(time.Minute), IssuedAt: now}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreUnexported(Claims{})); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

// TestStaticKeysRefused: every inconsistent setting is a NewValidator error
// that names what to change.
func TestStaticKeysRefused(t *testing.T) {
	k := sharedTestKeys()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	secret32 := make([]byte, 32)
	hs := []string{"HS256"}
	tests := []struct {
		name string
		edit func(*Config)
		say  string // part of the message
	}{
		{"empty map", func(c *Config) { c.Keys = map[string]any{} }, "Config.Keys is empty"},
		{"with JWKSURL", func(c *Config) { c.JWKSURL = "https://as.example/jwks" }, "JWKSURL"},
		{"introspection without endpoint", func(c *Config) { c.Introspection = &IntrospectionConfig{ClientID: "a", ClientSecret: "b"} }, "IntrospectionConfig.Endpoint"},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "Issuer"},
		{"RSA private key", func(c *Config) { c.Keys = map[string]any{"a": k.rsa} }, "private key"},
		{"EC private key", func(c *Config) { c.Keys = map[string]any{"a": k.p256} }, "private key"},
		{"Ed25519 private key", func(c *Config) { c.Keys = map[string]any{"a": k.ed} }, "private key"},
		{"RSA 1024 bits", func(c *Config) { c.Keys = map[string]any{"a": &weak.PublicKey} }, "1024 bits"},
		{"string secret", func(c *Config) { c.Keys = map[string]any{"a": "secret"} }, "[]byte"},
		{"other type", func(c *Config) { c.Keys = map[string]any{"a": 42} }, "int"},
		{"nil RSA key", func(c *Config) { c.Keys = map[string]any{"a": (*rsa.PublicKey)(nil)} }, "nil RSA"},
		{"short Ed25519 key", func(c *Config) { c.Keys = map[string]any{"a": ed25519.PublicKey(make([]byte, 31))} }, "Ed25519"},
		{"secret without HS alg", func(c *Config) { c.Keys = map[string]any{"a": secret32} }, "HS256, HS384 or HS512"},
		{"secret of 31 bytes", func(c *Config) { c.Algorithms = hs; c.Keys = map[string]any{"a": make([]byte, 31)} }, "31 bytes; HS256 needs 32"},
		{"HS512 with a 48-byte secret", func(c *Config) { c.Algorithms = []string{"HS512"}; c.Keys = map[string]any{"a": make([]byte, 48)} }, "HS512 needs 64"},
		{"HS256 named, only public keys", func(c *Config) { c.Algorithms = []string{"HS256", "RS256"} }, "no HMAC secret"},
		{"HS384 named, 32-byte secret only", func(c *Config) {
			c.Algorithms = []string{"HS256", "HS384"}
			c.Keys = map[string]any{"a": secret32}
		}, "HS384"},
		{"key fits no allowed algorithm", func(c *Config) { c.Algorithms = []string{"ES256"} }, "no algorithm in Config.Algorithms fits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Issuer: "internal", Audience: []string{"api"}, Keys: map[string]any{"a": &k.rsa.PublicKey}}
			tt.edit(&cfg)
			v, err := NewValidator(context.Background(), cfg)
			if err == nil {
				v.Close()
				t.Fatal("NewValidator accepted the configuration")
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error %q does not say %q", err, tt.say)
			}
		})
	}
	// HMAC with a JWKS is refused too.
	v, err := NewValidator(context.Background(), Config{Issuer: "https://as.example", Audience: []string{"api"}, Algorithms: hs})
	if err == nil {
		v.Close()
		t.Fatal("HS256 accepted without Config.Keys")
	} else if !strings.Contains(err.Error(), "Config.Keys") {
		t.Errorf("error %q does not point at Config.Keys", err)
	}
}
