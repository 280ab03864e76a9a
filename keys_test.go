package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestJWKPolicy(t *testing.T) {
	k := sharedTestKeys()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := &k.rsa.PublicKey
	eOne := rsaJWK("r", rsaPub, map[string]any{"e": b64([]byte{1})})
	eEven := rsaJWK("r", rsaPub, map[string]any{"e": b64([]byte{1, 0, 0})})
	offCurve := ecJWK("e", &k.p256.PublicKey, map[string]any{"y": b64(new(big.Int).Add(k.p256.Y, big.NewInt(1)).FillBytes(make([]byte, 32)))})
	algs, _ := allowList(nil, false)
	onlyES256, _ := allowList([]string{"ES256"}, false)

	tests := []struct {
		name    string
		jwk     map[string]any
		allowed map[string]*algorithm
		usable  bool
	}{
		{"RSA", rsaJWK("r", rsaPub, nil), algs, true},
		{"RSA use sig", rsaJWK("r", rsaPub, map[string]any{"use": "sig"}), algs, true},
		{"RSA key_ops verify", rsaJWK("r", rsaPub, map[string]any{"key_ops": []string{"verify"}}), algs, true},
		{"RSA alg RS256", rsaJWK("r", rsaPub, map[string]any{"alg": "RS256"}), algs, true},
		{"EC P-256", ecJWK("e", &k.p256.PublicKey, nil), algs, true},
		{"EC P-521 alg ES512", ecJWK("e", &k.p521.PublicKey, map[string]any{"alg": "ES512"}), algs, true},
		{"Ed25519", edJWK("d", k.ed.Public().(ed25519.PublicKey), nil), algs, true},
		{"RSA 1024 bits", rsaJWK("r", &weak.PublicKey, nil), algs, false},
		{"RSA exponent 1", eOne, algs, false},
		{"RSA even exponent", eEven, algs, false},
		{"RSA exponent wrapping 64 bits", rsaJWK("r", rsaPub, map[string]any{"e": b64([]byte{1, 0, 0, 0, 0, 0, 1, 0, 1})}), algs, false},
		{"RSA exponent with leading zero", rsaJWK("r", rsaPub, map[string]any{"e": b64([]byte{0, 1, 0, 1})}), algs, true},
		{"RSA with private exponent", rsaJWK("r", rsaPub, map[string]any{"d": b64(k.rsa.D.Bytes())}), algs, false},
		{"RSA with prime", rsaJWK("r", rsaPub, map[string]any{"p": b64(k.rsa.Primes[0].Bytes())}), algs, false},
		{"EC with private d", ecJWK("e", &k.p256.PublicKey, map[string]any{"d": b64(k.p256.D.Bytes())}), algs, false},
		{"OKP with private d", edJWK("d", k.ed.Public().(ed25519.PublicKey), map[string]any{"d": b64(k.ed.Seed())}), algs, false},
		{"symmetric oct", map[string]any{"kty": "oct", "k": b64([]byte("secret"))}, algs, false},
		{"oct without k", map[string]any{"kty": "oct"}, algs, false},
		{"use enc", rsaJWK("r", rsaPub, map[string]any{"use": "enc"}), algs, false},
		{"use empty", rsaJWK("r", rsaPub, map[string]any{"use": ""}), algs, false},
		{"key_ops encrypt", rsaJWK("r", rsaPub, map[string]any{"key_ops": []string{"encrypt"}}), algs, false},
		{"key_ops not a list", rsaJWK("r", rsaPub, map[string]any{"key_ops": "verify"}), algs, false},
		{"alg HS256 on RSA", rsaJWK("r", rsaPub, map[string]any{"alg": "HS256"}), algs, false},
		{"alg ES256 on RSA", rsaJWK("r", rsaPub, map[string]any{"alg": "ES256"}), algs, false},
		{"alg RS256 on EC", ecJWK("e", &k.p256.PublicKey, map[string]any{"alg": "RS256"}), algs, false},
		{"alg ES384 on P-256", ecJWK("e", &k.p256.PublicKey, map[string]any{"alg": "ES384"}), algs, false},
		{"alg not allowed", rsaJWK("r", rsaPub, map[string]any{"alg": "RS256"}), onlyES256, false},
		{"EC point off curve", offCurve, algs, false},
		{"EC unknown curve", ecJWK("e", &k.p256.PublicKey, map[string]any{"crv": "secp256k1"}), algs, false},
		{"OKP X25519", map[string]any{"kty": "OKP", "crv": "X25519", "x": b64(make([]byte, 32))}, algs, false},
		{"OKP short", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(make([]byte, 31))}, algs, false},
		{"kty missing", map[string]any{"n": "AQAB", "e": "AQAB"}, algs, false},
		{"kid not a string", rsaJWK("r", rsaPub, map[string]any{"kid": 5}), algs, false},
		{"n not a string", rsaJWK("r", rsaPub, map[string]any{"n": 5}), algs, false},
		{"x5c of another key", rsaJWK("r", rsaPub, map[string]any{"x5c": []string{"MIIB"}}), algs, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseJWK(mustJSON(tt.jwk), tt.allowed)
			if tt.usable && err != nil {
				t.Fatalf("key refused: %v", err)
			}
			if !tt.usable && err == nil {
				t.Fatal("key accepted")
			}
		})
	}
}

func TestJWKSDocument(t *testing.T) {
	k := sharedTestKeys()
	algs, _ := allowList(nil, false)
	good := rsaJWK("r", &k.rsa.PublicKey, nil)
	many := make([]any, maxJWKSKeys+1)
	for i := range many {
		many[i] = good
	}
	tests := []struct {
		name string
		doc  string
		keys int // usable keys; 0 means the document is refused
	}{
		{"one key", string(mustJSON(map[string]any{"keys": []any{good}})), 1},
		{"bad keys skipped", string(mustJSON(map[string]any{"keys": []any{good, map[string]any{"kty": "oct", "k": "c2VjcmV0"}, "x", 7}})), 1},
		{"no usable key", string(mustJSON(map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}})), 0},
		{"empty keys", `{"keys":[]}`, 0},
		{"keys missing", `{"kids":[]}`, 0},
		{"keys not an array", `{"keys":{}}`, 0},
		{"keys null", `{"keys":null}`, 0},
		{"duplicate keys member", `{"keys":[],"keys":[` + string(mustJSON(good)) + `]}`, 0},
		{"duplicate member in a key", `{"keys":[{"kty":"RSA","kty":"RSA","n":"` + good["n"].(string) + `","e":"AQAB"}]}`, 0},
		{"too many keys", string(mustJSON(map[string]any{"keys": many})), 0},
		{"not JSON", `<html>`, 0},
		{"array", `[]`, 0},
		{"empty", ``, 0},
		{"truncated", `{"keys":[` + string(mustJSON(good)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, _, _, err := parseJWKS([]byte(tt.doc), algs)
			if tt.keys == 0 {
				if err == nil {
					t.Fatalf("document accepted with %d keys", len(set.keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("document refused: %v", err)
			}
			if len(set.keys) != tt.keys {
				t.Fatalf("%d usable keys, want %d", len(set.keys), tt.keys)
			}
		})
	}
}

// TestWeakKeyNeverVerifies signs with a 1024-bit key the JWKS publishes: the
// signature is mathematically valid, yet the token is refused.
func TestWeakKeyNeverVerifies(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ri := newRawIssuer(t)
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{
		rsaJWK("weak", &weak.PublicKey, nil),
		ecJWK("p256", &sharedTestKeys().p256.PublicKey, nil),
	}}))
	v := ri.validator(t, nil)
	in := b64([]byte(`{"alg":"RS256","kid":"weak"}`)) + "." + b64(mustJSON(ri.claims()))
	sig := (&otherKey{priv: weak}).sign([]byte(in))
	c, err := v.Validate(context.Background(), in+"."+b64(sig))
	checkResult(t, c, err, result{ErrInvalidToken, descUnknownKey})
}

// TestDuplicateKIDs: RFC 7517 lets keys of different types share a kid;
// the token's alg picks among them.
func TestDuplicateKIDs(t *testing.T) {
	k := sharedTestKeys()
	ri := newRawIssuer(t)
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{
		rsaJWK("same", &k.rsa.PublicKey, nil),
		ecJWK("same", &k.p256.PublicKey, nil),
	}}))
	v := ri.validator(t, nil)
	for _, alg := range []string{"RS256", "ES256"} {
		tok := signRaw(alg, []byte(`{"alg":"`+alg+`","kid":"same"}`), mustJSON(ri.claims()))
		c, err := v.Validate(context.Background(), tok)
		checkResult(t, c, err, accepted)
	}
	tok := signRaw("ES384", []byte(`{"alg":"ES384","kid":"same"}`), mustJSON(ri.claims()))
	c, err := v.Validate(context.Background(), tok)
	checkResult(t, c, err, result{ErrInvalidToken, descUnknownKey})
}

func TestAlgorithmFitsKey(t *testing.T) {
	all := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"}
	algs, err := allowList(all, true)
	if err != nil {
		t.Fatal(err)
	}
	k := sharedTestKeys()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	keys := map[string]*verificationKey{
		"rsa":             {public: &k.rsa.PublicKey},
		"rsa alg RS256":   {public: &k.rsa.PublicKey, alg: "RS256"},
		"p256":            {public: &k.p256.PublicKey},
		"p384":            {public: &p384.PublicKey},
		"ed":              {public: k.ed.Public()},
		"ed alg EdDSA":    {public: k.ed.Public(), alg: "EdDSA"},
		"ed alg Ed25519":  {public: k.ed.Public(), alg: "Ed25519"},
		"secret 31 bytes": {public: make([]byte, 31)},
		"secret 32 bytes": {public: make([]byte, 32)},
		"secret 48 bytes": {public: make([]byte, 48)},
		"secret 64 bytes": {public: make([]byte, 64)},
	}
	want := map[string]string{
		"rsa":             "RS256 RS384 RS512 PS256 PS384 PS512",
		"rsa alg RS256":   "RS256",
		"p256":            "ES256",
		"p384":            "ES384",
		"ed":              "EdDSA Ed25519",
		"ed alg EdDSA":    "EdDSA Ed25519",
		"ed alg Ed25519":  "EdDSA Ed25519",
		"secret 31 bytes": "",
		"secret 32 bytes": "HS256",
		"secret 48 bytes": "HS256 HS384",
		"secret 64 bytes": "HS256 HS384 HS512",
	}
	for name, key := range keys {
		var fits []string
		for _, a := range all {
			if algs[a].fits(key) {
				fits = append(fits, a)
			}
		}
		if got := strings.Join(fits, " "); got != want[name] {
			t.Errorf("%s fits %q, want %q", name, got, want[name])
		}
	}
}

// TestSmallOrderEd25519Forgery: with the identity point as the published
// key, Go's ed25519.Verify accepts the signature (identity, 0) on any
// message. Such a key must never be used.
func TestSmallOrderEd25519Forgery(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1
	forged := append(append([]byte{}, identity...), make([]byte, 32)...)
	if !ed25519.Verify(identity, []byte("any message"), forged) {
		t.Log("this Go version rejects the forgery by itself; the key policy is then a second line")
	}
	ri := newRawIssuer(t)
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{
		edJWK("weak", identity, nil),
		rsaJWK("rsa", &sharedTestKeys().rsa.PublicKey, nil),
	}}))
	v := ri.validator(t, nil)
	in := b64([]byte(`{"alg":"EdDSA","kid":"weak"}`)) + "." + b64(mustJSON(ri.claims()))
	c, err := v.Validate(context.Background(), in+"."+b64(forged))
	checkResult(t, c, err, result{ErrInvalidToken, descUnknownKey})
}

func TestWeakEd25519(t *testing.T) {
	hex := func(s string) []byte {
		b := make([]byte, 32)
		for i := range b {
			fmt.Sscanf(s[2*i:2*i+2], "%02x", &b[i])
		}
		return b
	}
	weak := []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p: non-canonical 0
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p+1: non-canonical identity
	}
	for _, w := range weak {
		if !weakEd25519(hex(w)) {
			t.Errorf("%s not flagged", w)
		}
	}
	if weakEd25519(sharedTestKeys().ed.Public().(ed25519.PublicKey)) {
		t.Error("a generated key was flagged")
	}
}
