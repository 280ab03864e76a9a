//go:build !go1.27

package accesstoken

import (
	"context"
	"strings"
	"testing"
)

// Built with a Go older than 1.27: AKP keys are skipped as an unknown type
// (the rest of the set used), the ML-DSA algorithms cannot be listed, and
// Explain says why an ML-DSA token is refused.
func TestMLDSABeforeGo127(t *testing.T) {
	ri := newRawIssuer(t)
	p256 := sharedTestKeys().p256
	akp := map[string]any{"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": b64(make([]byte, 1312))}
	ri.setJWKS(mustJSON(map[string]any{"keys": []any{akp, ecJWK("ec", &p256.PublicKey, map[string]any{"alg": "ES256"})}}))
	v := ri.validator(t, nil)
	if _, err := v.Validate(context.Background(), signRaw("ES256", mustJSON(map[string]any{"alg": "ES256", "kid": "ec"}), mustJSON(ri.claims()))); err != nil {
		t.Fatalf("the EC key beside an AKP key: %v", err)
	}
	if _, err := NewValidator(context.Background(), Config{Issuer: ri.srv.URL, Audience: []string{"api"}, Algorithms: []string{"ML-DSA-44"}}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("ML-DSA listed with an old Go: %v", err)
	}
	tok := b64(mustJSON(map[string]any{"alg": "ML-DSA-44", "kid": "pq"})) + "." + b64(mustJSON(ri.claims())) + "." + b64(make([]byte, 2420))
	x := v.Explain(context.Background(), tok)
	for _, c := range x.Checks {
		if c.Name == "alg" && !c.OK && strings.Contains(c.Hint, "Go older than 1.27") {
			return
		}
	}
	t.Fatalf("no hint about the Go version: %+v", x.Checks)
}
