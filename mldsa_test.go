//go:build go1.27

package accesstoken

import (
	"context"
	"crypto/mldsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// pqKey is an ML-DSA key and its AKP JWK (RFC 9964 §3).
type pqKey struct {
	alg  string
	priv *mldsa.PrivateKey
}

func newPQKey(t testing.TB, p mldsa.Parameters) pqKey {
	priv, err := mldsa.GenerateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return pqKey{alg: p.String(), priv: priv}
}

func (k pqKey) jwk(kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kty": "AKP", "alg": k.alg, "kid": kid, "pub": b64(k.priv.PublicKey().Bytes())}
	for name, v := range extra {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	return m
}

// sign makes a compact JWS of header and claims; ctx is the ML-DSA
// context (RFC 9964 requires the empty one).
func (k pqKey) sign(t testing.TB, header, claims map[string]any, ctx string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	sig, err := k.priv.Sign(nil, []byte(input), &mldsa.Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

var pqAlgs = []string{"ML-DSA-44", "ML-DSA-65", "ML-DSA-87"}

// Tokens of the three parameter sets verify with AKP keys from the JWKS,
// once the algorithms are listed; the default list leaves them out.
func TestMLDSA(t *testing.T) {
	ri := newRawIssuer(t)
	keys := map[string]pqKey{}
	set := []any{ecJWK("ec", &sharedTestKeys().p256.PublicKey, map[string]any{"alg": "ES256"})} // for the default list
	for _, p := range []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()} {
		k := newPQKey(t, p)
		keys[k.alg] = k
		set = append(set, k.jwk("pq-"+k.alg, nil))
	}
	ri.setJWKS(mustJSON(map[string]any{"keys": set}))
	v := ri.validator(t, func(c *Config) { c.Algorithms = append([]string{"ES256"}, pqAlgs...) })
	for _, alg := range pqAlgs {
		tok := keys[alg].sign(t, map[string]any{"alg": alg, "kid": "pq-" + alg, "typ": "at+jwt"}, ri.claims(), "")
		if c, err := v.Validate(context.Background(), tok); err != nil || c.Subject != "alice" {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	def := ri.validator(t, nil)
	tok := keys["ML-DSA-65"].sign(t, map[string]any{"alg": "ML-DSA-65", "kid": "pq-ML-DSA-65"}, ri.claims(), "")
	if _, err := def.Validate(context.Background(), tok); err == nil || AsError(err).reason() != "algorithm" {
		t.Fatalf("the default list accepted ML-DSA: %v", err)
	}
	if _, err := NewValidator(context.Background(), Config{Issuer: "x", Audience: []string{"a"}, Keys: map[string]any{"k": keys["ML-DSA-44"].priv.PublicKey()}, Algorithms: []string{"ES256"}}); err == nil {
		t.Fatal("an ML-DSA static key with no ML-DSA algorithm allowed was accepted")
	}
}

// Every hostile case of RFC 9964's security considerations and those every
// algorithm gets here: a key used for another parameter set, a signature
// of the wrong length, a tampered token, a context other than the empty
// one, key/alg binding, private members, malformed keys.
func TestMLDSAHostile(t *testing.T) {
	ri := newRawIssuer(t)
	k44 := newPQKey(t, mldsa.MLDSA44())
	k65 := newPQKey(t, mldsa.MLDSA65())
	other44 := newPQKey(t, mldsa.MLDSA44())
	p256 := sharedTestKeys().p256
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{
		k44.jwk("k44", nil),
		k65.jwk("k65", nil),
		ecJWK("ec", &p256.PublicKey, map[string]any{"alg": "ES256"}),
		k44.jwk("no-alg", map[string]any{"alg": nil}),                                      // unusable without alg (RFC 9964)
		k44.jwk("with-priv", map[string]any{"priv": b64(k44.priv.Bytes())}),                // a leaked private key: dropped
		k44.jwk("short-pub", map[string]any{"pub": b64(k44.priv.PublicKey().Bytes()[1:])}), // wrong length
		k44.jwk("pub-of-65", map[string]any{"pub": b64(k65.priv.PublicKey().Bytes())}),     // a 65 key labelled 44
		k44.jwk("alg-es256", map[string]any{"alg": "ES256"}),                               // alg does not fit kty
		k44.jwk("no-pub", map[string]any{"pub": nil}),
		k44.jwk("pub-not-b64", map[string]any{"pub": "***"}),
	}}))
	v := ri.validator(t, func(c *Config) { c.Algorithms = append([]string{"ES256"}, pqAlgs...) })
	good := k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "k44"}, ri.claims(), "")
	if _, err := v.Validate(context.Background(), good); err != nil {
		t.Fatalf("the good token: %v", err)
	}
	parts := strings.Split(good, ".")
	sig, _ := decodeSegment(parts[2])
	resign := func(s []byte) string { return parts[0] + "." + parts[1] + "." + b64(s) }
	flipped := append([]byte(nil), sig...)
	flipped[100] ^= 1
	tamperedClaims := ri.claims()
	tamperedClaims["sub"] = "mallory"
	tc, _ := json.Marshal(tamperedClaims)
	for name, tok := range map[string]string{
		"signature one byte short":      resign(sig[:len(sig)-1]),
		"signature one byte long":       resign(append(append([]byte(nil), sig...), 0)),
		"signature of ML-DSA-65 length": resign(append(append([]byte(nil), sig...), make([]byte, mldsa.MLDSA65SignatureSize-len(sig))...)),
		"signature bit flipped":         resign(flipped),
		"payload tampered":              parts[0] + "." + b64(tc) + "." + parts[2],
		"empty signature":               parts[0] + "." + parts[1] + ".",
		"non-empty context":             k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "k44"}, ri.claims(), "jwt"),
		"another key's signature":       other44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "k44"}, ri.claims(), ""),
		"alg 65 with the 44 key":        k44.sign(t, map[string]any{"alg": "ML-DSA-65", "kid": "k44"}, ri.claims(), ""),
		"alg 44 with the 65 key":        k65.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "k65"}, ri.claims(), ""),
		"ML-DSA alg with an EC key":     k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "ec"}, ri.claims(), ""),
		"ES256 alg with an AKP key":     signRaw("ES256", mustJSON(map[string]any{"alg": "ES256", "kid": "k44"}), mustJSON(ri.claims())),
		"key without alg":               k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "no-alg"}, ri.claims(), ""),
		"key with priv":                 k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "with-priv"}, ri.claims(), ""),
		"key with a short pub":          k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "short-pub"}, ri.claims(), ""),
		"44 label on a 65 key":          k65.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "pub-of-65"}, ri.claims(), ""),
		"key labelled ES256":            k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "alg-es256"}, ri.claims(), ""),
		"key without pub":               k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "no-pub"}, ri.claims(), ""),
		"pub not base64url":             k44.sign(t, map[string]any{"alg": "ML-DSA-44", "kid": "pub-not-b64"}, ri.claims(), ""),
		"alg ML-DSA-44 spelt ml-dsa-44": k44.sign(t, map[string]any{"alg": "ml-dsa-44", "kid": "k44"}, ri.claims(), ""),
	} {
		_, err := v.Validate(context.Background(), tok)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid_token", name, err)
		}
	}
	// The good keys still work: bad neighbours in the set change nothing.
	if _, err := v.Validate(context.Background(), k65.sign(t, map[string]any{"alg": "ML-DSA-65", "kid": "k65"}, ri.claims(), "")); err != nil {
		t.Fatal(err)
	}
}

// Config.Keys takes an *mldsa.PublicKey, bound to its parameter set; a
// private key or a nil one is refused with a reason.
func TestMLDSAStaticKeys(t *testing.T) {
	k := newPQKey(t, mldsa.MLDSA87())
	cfg := func(key any) Config {
		return Config{Issuer: "https://issuer.example", Audience: []string{"api"}, Keys: map[string]any{"pq": key}, Algorithms: []string{"ML-DSA-87"}}
	}
	v, err := NewValidator(context.Background(), cfg(k.priv.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	claims := map[string]any{"iss": "https://issuer.example", "aud": "api", "sub": "s", "exp": 4102444800}
	if _, err := v.Validate(context.Background(), k.sign(t, map[string]any{"alg": "ML-DSA-87", "kid": "pq"}, claims, "")); err != nil {
		t.Fatal(err)
	}
	var nilKey *mldsa.PublicKey
	for name, key := range map[string]any{"private key": k.priv, "nil key": nilKey} {
		if _, err := NewValidator(context.Background(), cfg(key)); err == nil {
			t.Errorf("%s accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := NewValidator(context.Background(), Config{Issuer: "x", Audience: []string{"a"}, Keys: map[string]any{"pq": k.priv.PublicKey()}, Algorithms: []string{"ML-DSA-44"}}); err == nil {
		t.Error("an ML-DSA-87 key accepted with only ML-DSA-44 allowed")
	}
}
