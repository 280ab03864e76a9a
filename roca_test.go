package accesstoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// wycheproofROCAN is the modulus of Project Wycheproof's test group
// "jws_rsa_roca_key" (testvectors/json_web_key_test.json, tcId 7,
// "rejectsKeyWithRocaVulnerability"), a key made by the library of
// CVE-2017-15361.
const wycheproofROCAN = "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE"

func TestROCAKeyRefused(t *testing.T) {
	nBytes, err := base64.RawURLEncoding.DecodeString(wycheproofROCAN)
	if err != nil {
		t.Fatal(err)
	}
	n := new(big.Int).SetBytes(nBytes)
	if !hasROCAFingerprint(n) {
		t.Fatal("Wycheproof's ROCA key is not recognised")
	}
	jwk := mustJSON(map[string]any{"kty": "RSA", "kid": "kid-rsa-roca-sign", "alg": "RS256", "use": "sig", "n": wycheproofROCAN, "e": "AQAB"})
	allowed := map[string]*algorithm{"RS256": supportedAlgorithms()[0], "EdDSA": nil}
	for _, a := range supportedAlgorithms() {
		if a.name == "EdDSA" {
			allowed["EdDSA"] = a
		}
	}
	_, err = parseJWK(jwk, allowed)
	if !errors.Is(err, errROCA) || !strings.Contains(err.Error(), "ROCA") {
		t.Errorf("parseJWK: %v, want the ROCA refusal", err)
	}
	// As Config.Keys: NewValidator refuses it and says why.
	_, err = NewValidator(context.Background(), Config{Issuer: "https://issuer.example", Audience: []string{"api"},
		Keys: map[string]any{"kid-rsa-roca-sign": &rsa.PublicKey{N: n, E: 65537}}})
	if err == nil || !strings.Contains(err.Error(), "CVE-2017-15361") {
		t.Errorf("Config.Keys with a ROCA key: %v", err)
	}
	// In a JWKS: the key is left out, with the cause, and the rest of the
	// set is used.
	doc := mustJSON(map[string]any{"keys": []any{json.RawMessage(jwk), edJWK("ed", sharedTestKeys().ed.Public().(ed25519.PublicKey), nil)}})
	set, skipped, _, err := parseJWKS(doc, allowed)
	if err != nil || len(set.keys) != 1 || set.keys[0].kid != "ed" || len(skipped) != 1 || !errors.Is(skipped[0], errROCA) {
		t.Errorf("parseJWKS: %d keys, skipped %v, %v", len(set.keys), skipped, err)
	}
	// No false alarm on keys made by crypto/rsa.
	for i := 0; i < 8; i++ {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if hasROCAFingerprint(k.N) {
			t.Fatalf("a key from crypto/rsa has the fingerprint: %x", k.N)
		}
	}
	if hasROCAFingerprint(sharedTestKeys().rsa.N) {
		t.Fatal("the shared test key has the fingerprint")
	}
}
