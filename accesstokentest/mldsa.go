//go:build go1.27

package accesstokentest

import (
	"crypto/mldsa"
	"fmt"
)

// mldsaKeys makes one ML-DSA key per parameter set for generation g, and
// their JWKs (RFC 9964 §3: kty AKP, alg, pub).
func mldsaKeys(g int) (map[string]*signingKey, []map[string]any) {
	keys := map[string]*signingKey{}
	var published []map[string]any
	for _, p := range []mldsa.Parameters{mldsa.MLDSA44(), mldsa.MLDSA65(), mldsa.MLDSA87()} {
		priv, err := mldsa.GenerateKey(p)
		if err != nil {
			panic("accesstokentest: generating ML-DSA key: " + err.Error())
		}
		alg := p.String()
		kid := fmt.Sprintf("%s-%d", alg, g)
		keys[alg] = &signingKey{kid: kid, alg: alg, priv: priv}
		published = append(published, map[string]any{"kty": "AKP", "use": "sig", "alg": alg, "kid": kid, "pub": b64(priv.PublicKey().Bytes())})
	}
	return keys, published
}

// mldsaFits reports whether k is an ML-DSA key of its algorithm's
// parameter set.
func mldsaFits(k *signingKey) bool {
	priv, ok := k.priv.(*mldsa.PrivateKey)
	return ok && priv.PublicKey().Parameters().String() == k.alg
}

// mldsaSign signs input (the JWS signing input itself, empty context).
func mldsaSign(k *signingKey, input []byte) ([]byte, error) {
	priv, ok := k.priv.(*mldsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("no signer for %s", k.alg)
	}
	return priv.Sign(nil, input, &mldsa.Options{})
}
