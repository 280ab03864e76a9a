package accesstoken

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// jweFixture is the resource server's decryption keys and a validator
// holding them, over the test kit's issuer.
type jweFixture struct {
	as     *accesstokentest.Server
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	secret []byte
	v      *Validator
}

func newJWE(t *testing.T, edit func(*DecryptionConfig)) *jweFixture {
	t.Helper()
	f := &jweFixture{as: accesstokentest.NewServer(), rsa: sharedTestKeys().rsa, secret: make([]byte, 32)}
	t.Cleanup(f.as.Close)
	f.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rand.Read(f.secret)
	cfg := DecryptionConfig{Keys: map[string]any{"rsa": f.rsa, "ec": f.ec, "sym": f.secret}}
	if edit != nil {
		edit(&cfg)
	}
	f.v = kitValidator(t, f.as, func(c *Config) { c.Decryption = &cfg })
	return f
}

// seal encrypts plaintext with go-jose as an authorization server would,
// with extra protected header members.
func seal(t *testing.T, plaintext, alg, enc string, key any, kid string, header map[string]any) string {
	t.Helper()
	opts := &jose.EncrypterOptions{}
	for k, v := range header {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	e, err := jose.NewEncrypter(jose.ContentEncryption(enc), jose.Recipient{Algorithm: jose.KeyAlgorithm(alg), Key: key, KeyID: kid}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// onlyDecrypter hides everything of an RSA key but crypto.Decrypter, as a
// KMS client does.
type onlyDecrypter struct{ k *rsa.PrivateKey }

func (o onlyDecrypter) Public() crypto.PublicKey { return &o.k.PublicKey }
func (o onlyDecrypter) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return o.k.Decrypt(r, msg, opts)
}

func TestJWEAccepted(t *testing.T) {
	f := newJWE(t, nil)
	ctx := context.Background()
	claims := map[string]any{"sub": "alice", "scope": "orders:read"}
	ecdhKey, _ := ecdh.P256().GenerateKey(rand.Reader)
	ecdhPub, _ := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), ecdhKey.PublicKey().Bytes())
	kms := kitValidator(t, f.as, func(c *Config) {
		c.Decryption = &DecryptionConfig{Keys: map[string]any{"kms": onlyDecrypter{f.rsa}, "ecdh": ecdhKey}}
	})
	for _, tc := range []struct {
		name     string
		v        *Validator
		alg, enc string
		key      any
		kid      string
		header   map[string]any
	}{
		{"RSA-OAEP-256 A256GCM", f.v, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", nil},
		{"ECDH-ES+A256KW A256GCM", f.v, "ECDH-ES+A256KW", "A256GCM", &f.ec.PublicKey, "ec", nil},
		{"ECDH-ES A128CBC-HS256", f.v, "ECDH-ES", "A128CBC-HS256", &f.ec.PublicKey, "ec", nil},
		{"dir A256GCM", f.v, "dir", "A256GCM", f.secret, "sym", nil},
		{"A256KW A192GCM", f.v, "A256KW", "A192GCM", f.secret, "sym", nil},
		{"cty at+jwt (oidc-provider writes it)", f.v, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "at+jwt"}},
		{"replicated claims", f.v, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"iss": f.as.Issuer(), "aud": []string{f.as.Audience()}, "sub": "alice"}},
		{"a crypto.Decrypter (KMS)", kms, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "kms", nil},
		{"an *ecdh.PrivateKey", kms, "ECDH-ES+A128KW", "A256GCM", ecdhPub, "ecdh", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := f.as.Token(claims, accesstokentest.WithEncryption(tc.alg, tc.enc, tc.key, tc.kid, tc.header))
			if strings.Count(tok, ".") != 4 {
				t.Fatalf("not a JWE: %q", tok)
			}
			for i := range 2 { // the second from the verified-token cache, keyed by the whole JWE
				c, err := tc.v.Validate(ctx, tok)
				if err != nil || c.Subject != "alice" {
					t.Fatalf("validation %d: %v (%v)", i, err, AsError(err).Err)
				}
			}
		})
	}
	if n := f.v.verified.len(); n != 7 {
		t.Fatalf("verified cache holds %d tokens, want 7", n)
	}
	// RSA-OAEP-384 and -512, which go-jose cannot make: sealed by hand.
	for _, alg := range []string{"RSA-OAEP-384", "RSA-OAEP-512"} {
		tok := sealOAEP(t, f.as.Token(claims), alg, &f.rsa.PublicKey, "rsa")
		if c, err := f.v.Validate(ctx, tok); err != nil || c.Subject != "alice" {
			t.Fatalf("%s: %v (%v)", alg, err, AsError(err).Err)
		}
	}
	// Unsigned claims are accepted only under symmetric key management.
	exp := fmt.Sprint(4102444800)
	plain := `{"iss":"` + f.as.Issuer() + `","aud":"` + f.as.Audience() + `","sub":"bob","exp":` + exp + `}`
	if c, err := f.v.Validate(ctx, seal(t, plain, "dir", "A256GCM", f.secret, "sym", nil)); err != nil || c.Subject != "bob" {
		t.Fatalf("unsigned under dir: %v", err)
	}
}

// Each hostile JWE, refused with a cause naming what is wrong.
func TestJWEHostile(t *testing.T) {
	f := newJWE(t, nil)
	ctx := context.Background()
	claims := map[string]any{"sub": "alice"}
	good := func() string {
		return f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", nil))
	}
	exp := fmt.Sprint(4102444800)
	plain := `{"iss":"` + f.as.Issuer() + `","aud":"` + f.as.Audience() + `","sub":"eve","exp":` + exp + `}`
	noneInside := b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(plain)) + "."
	hsInside := signHS256(plain, []byte("0123456789abcdef0123456789abcdef"))
	tamper := func(tok string, segment int) string {
		parts := strings.Split(tok, ".")
		s := []byte(parts[segment])
		if s[2] == 'A' {
			s[2] = 'B'
		} else {
			s[2] = 'A'
		}
		parts[segment] = string(s)
		return strings.Join(parts, ".")
	}
	// RFC 7516 §5.2 step 10: under direct encryption or direct key
	// agreement, the encrypted key must be empty. go-jose ignores it.
	withEncryptedKey := func(tok string) string {
		parts := strings.Split(tok, ".")
		parts[1] = b64([]byte("ignored key material"))
		return strings.Join(parts, ".")
	}
	badEPK := func() string {
		tok := f.as.Token(claims, accesstokentest.WithEncryption("ECDH-ES+A256KW", "A256GCM", &f.ec.PublicKey, "ec", nil))
		parts := strings.Split(tok, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var h map[string]any
		json.Unmarshal(raw, &h)
		epk := h["epk"].(map[string]any)
		epk["y"] = epk["x"] // a point not on P-256 (the invalid-curve attack)
		raw, _ = json.Marshal(h)
		parts[0] = base64.RawURLEncoding.EncodeToString(raw)
		return strings.Join(parts, ".")
	}
	tests := []struct {
		name, token, cause string
	}{
		{"RSA1_5", seal(t, good(), "RSA1_5", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "JWT"}), `key management "RSA1_5" is not accepted`},
		{"PBES2", seal(t, good(), "PBES2-HS256+A128KW", "A256GCM", []byte("password"), "sym", map[string]any{"cty": "JWT"}), `"PBES2-HS256+A128KW" is not accepted`},
		{"zip", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"zip": "DEF"})), `"zip"`},
		{"alg none inside", seal(t, noneInside, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "JWT"}), "JWS segments"},
		{"HS256 inside", seal(t, hsInside, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "JWT"}), "alg"},
		{"unsigned under public-key encryption", seal(t, plain, "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", nil), `without "cty"`},
		{"unsigned under ECDH-ES", seal(t, plain, "ECDH-ES", "A256GCM", &f.ec.PublicKey, "ec", nil), `without "cty"`},
		{"cty not a JWT", seal(t, good(), "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "json"}), "is not a JWT"},
		{"replicated iss differs", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"iss": "https://evil.example"})), "header iss"},
		{"replicated aud differs", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"aud": "other"})), "header aud"},
		{"replicated sub differs", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"sub": "mallory"})), "header sub"},
		{"tampered encrypted key", tamper(good(), 1), "decryption failed"},
		{"tampered IV", tamper(good(), 2), "decryption failed"},
		{"tampered ciphertext", tamper(good(), 3), "decryption failed"},
		{"tampered tag", tamper(good(), 4), "decryption failed"},
		{"tampered header (AAD)", tamper(good(), 0), ""},
		{"truncated", good()[:200] + ".x.y.z.w", ""},
		{"epk not on the curve", badEPK(), ""},
		{"dir key of another size than enc needs", seal(t, good(), "dir", "A256CBC-HS512", make([]byte, 64), "sym", map[string]any{"cty": "JWT"}), "decryption failed"},
		{"dir with an encrypted key", withEncryptedKey(f.as.Token(claims, accesstokentest.WithEncryption("dir", "A256GCM", f.secret, "sym", nil))), "must have an empty encrypted key"},
		{"ECDH-ES with an encrypted key", withEncryptedKey(f.as.Token(claims, accesstokentest.WithEncryption("ECDH-ES", "A256GCM", &f.ec.PublicKey, "ec", nil))), "must have an empty encrypted key"},
		{"JWE inside a JWE", seal(t, good(), "RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", map[string]any{"cty": "JWT"}), "not a JWS"},
		{"unknown kid", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "other", nil)), `no decryption key "other"`},
		{"no kid, no \"\" key", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "", nil)), `no decryption key ""`},
		{"kid of another key type", f.as.Token(claims, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "ec", nil)), "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.v.Validate(ctx, tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Validate: %v, want invalid_token", err)
			}
			if cause := fmt.Sprint(AsError(err).Err); !strings.Contains(cause, tt.cause) {
				t.Fatalf("cause %q does not contain %q", cause, tt.cause)
			}
		})
	}
	huge := good() + strings.Repeat("A", maxTokenBytes)
	if _, err := f.v.Validate(ctx, huge); !errors.Is(err, ErrInvalidToken) || AsError(err).Description != descTooLarge {
		t.Fatalf("oversized: %v", err)
	}
}

func signHS256(claims string, secret []byte) string {
	input := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64([]byte(claims))
	return input + "." + b64(hmacSHA256(secret, []byte(input)))
}

func TestDecryptionConfigErrors(t *testing.T) {
	rsaKey := sharedTestKeys().rsa
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, cfg := range map[string]DecryptionConfig{
		"no keys":                  {},
		"RSA1_5":                   {Keys: map[string]any{"": rsaKey}, KeyAlgorithms: []string{"RSA1_5"}},
		"PBES2":                    {Keys: map[string]any{"": rsaKey}, KeyAlgorithms: []string{"PBES2-HS256+A128KW"}},
		"unknown alg":              {Keys: map[string]any{"": rsaKey}, KeyAlgorithms: []string{"RSA-OAEP"}},
		"unknown enc":              {Keys: map[string]any{"": rsaKey}, ContentEncryption: []string{"A512GCM"}},
		"empty list":               {Keys: map[string]any{"": rsaKey}, ContentEncryption: []string{}},
		"public key":               {Keys: map[string]any{"": &rsaKey.PublicKey}},
		"small RSA key":            {Keys: map[string]any{"": small}},
		"key fitting no algorithm": {Keys: map[string]any{"": ec}, KeyAlgorithms: []string{"RSA-OAEP-256"}},
		"secret fitting nothing":   {Keys: map[string]any{"": make([]byte, 20)}},
	} {
		_, err := NewValidator(context.Background(), Config{Issuer: "https://as.example", Audience: []string{"a"}, Decryption: &cfg})
		if err == nil || !strings.Contains(err.Error(), "Decryption") {
			t.Errorf("%s: %v, want a NewValidator error naming DecryptionConfig", name, err)
		}
	}
}

// A DPoP-bound encrypted token: the proof's ath is over the token as sent
// (the JWE).
func TestJWEWithDPoP(t *testing.T) {
	f := newJWE(t, nil)
	v := kitValidator(t, f.as, func(c *Config) {
		c.Decryption = &DecryptionConfig{Keys: map[string]any{"rsa": f.rsa}}
		c.DPoP = &DPoPConfig{}
	})
	key := accesstokentest.NewDPoPKey("ES256")
	tok := f.as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key),
		accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", nil))
	proof := key.Proof("GET", "https://api.example/orders", accesstokentest.WithAccessToken(tok))
	c, err := v.ValidateRequest(context.Background(), &Request{Scheme: "DPoP", Token: tok, DPoPProof: proof, Method: "GET", URL: "https://api.example/orders"})
	if err != nil || c.Subject != "dora" {
		t.Fatalf("ValidateRequest: %v", err)
	}
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// sealOAEP makes a JWE with RSA-OAEP-384 or -512 and A256GCM by hand
// (RFC 7516 §5.1), for the algorithms go-jose does not produce.
func sealOAEP(t *testing.T, plaintext, alg string, pub *rsa.PublicKey, kid string) string {
	t.Helper()
	hash := map[string]crypto.Hash{"RSA-OAEP-384": crypto.SHA384, "RSA-OAEP-512": crypto.SHA512}[alg]
	cek := make([]byte, 32)
	rand.Read(cek)
	ek, err := rsa.EncryptOAEP(hash.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	header := b64([]byte(`{"alg":"` + alg + `","enc":"A256GCM","kid":"` + kid + `","cty":"JWT"}`))
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	iv := make([]byte, gcm.NonceSize())
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, []byte(plaintext), []byte(header))
	ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	return header + "." + b64(ek) + "." + b64(iv) + "." + b64(ct) + "." + b64(tag)
}

func TestJWEMultiIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	rsaKey := sharedTestKeys().rsa
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := func(as *accesstokentest.Server, keys map[string]any) Config {
		return Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, Decryption: &DecryptionConfig{Keys: keys}}
	}
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		cfg(a, map[string]any{"a": rsaKey}), cfg(b, map[string]any{"b": ecKey}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	toA := accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &rsaKey.PublicKey, "a", nil)
	toB := accesstokentest.WithEncryption("ECDH-ES+A256KW", "A256GCM", &ecKey.PublicKey, "b", map[string]any{"iss": b.Issuer()})
	if c, err := m.Validate(ctx, a.Token(map[string]any{"sub": "alice"}, toA)); err != nil || c.Issuer != a.Issuer() {
		t.Fatalf("routed by kid: %v", err)
	}
	if c, err := m.Validate(ctx, b.Token(map[string]any{"sub": "bob"}, toB)); err != nil || c.Issuer != b.Issuer() {
		t.Fatalf("routed by header iss: %v", err)
	}
	// Encrypted to A's key, signed by B: the inner iss must be A's.
	if _, err := m.Validate(ctx, b.Token(map[string]any{"sub": "bob"}, toA)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("B's token under A's key: %v", err)
	}
	unlisted := accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &rsaKey.PublicKey, "a", map[string]any{"iss": "https://evil.example"})
	if _, err := m.Validate(ctx, a.Token(nil, unlisted)); !errors.Is(err, ErrInvalidToken) || !strings.Contains(fmt.Sprint(AsError(err).Err), "not a trusted issuer") {
		t.Fatalf("header iss of an unlisted issuer: %v", err)
	}
	if _, err := m.Validate(ctx, a.Token(nil, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &rsaKey.PublicKey, "zzz", nil))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = NewMultiIssuer(ctx, MultiIssuerConfig{Issuers: []Config{cfg(a, map[string]any{"k": ecKey}), cfg(b, map[string]any{"k": other})}})
	if err == nil || !strings.Contains(err.Error(), `under kid "k"`) {
		t.Fatalf("one kid, two keys: %v", err)
	}
	m2, err := NewMultiIssuer(ctx, MultiIssuerConfig{Issuers: []Config{cfg(a, map[string]any{"k": ecKey}), cfg(b, map[string]any{"k": ecKey})}})
	if err != nil {
		t.Fatalf("one kid, one key shared: %v", err)
	}
	m2.Close()
}

// The published JWK Set holds public halves only, and what is encrypted to
// them decrypts.
func TestPublicJWKS(t *testing.T) {
	f := newJWE(t, nil)
	doc, err := DecryptionConfig{Keys: map[string]any{"rsa": f.rsa, "ec": f.ec, "sym": f.secret}}.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"d"`) || strings.Contains(string(doc), `"sym"`) {
		t.Fatalf("private material published: %s", doc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("%v: %s", err, doc)
	}
	for _, k := range set.Keys {
		alg := map[string]string{"rsa": "RSA-OAEP-256", "ec": "ECDH-ES+A128KW"}[k.KeyID]
		if k.Use != "enc" || !k.IsPublic() {
			t.Fatalf("key %s: use %q, public %v", k.KeyID, k.Use, k.IsPublic())
		}
		tok := f.as.Token(map[string]any{"sub": "alice"}, accesstokentest.WithEncryption(alg, "A256GCM", k.Key, k.KeyID, nil))
		if _, err := f.v.Validate(context.Background(), tok); err != nil {
			t.Fatalf("encrypted to the published %s key: %v", k.KeyID, err)
		}
	}
}
