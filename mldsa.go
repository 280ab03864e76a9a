//go:build go1.27

package accesstoken

import (
	"crypto/mldsa"
	"errors"
	"fmt"
)

// This file verifies ML-DSA signatures (RFC 9964: JOSE key type AKP,
// algorithms ML-DSA-44, ML-DSA-65 and ML-DSA-87, FIPS 204 with an empty
// context) with Go's crypto/mldsa, which exists from Go 1.27. With an older
// Go, mldsa_old.go stands in and such keys stay unknown.

const pqSupported = true

// pqAlgorithms are the ML-DSA algorithms, never in the default list.
func pqAlgorithms() []*algorithm {
	return []*algorithm{
		{name: "ML-DSA-44", kind: kindAKP},
		{name: "ML-DSA-65", kind: kindAKP},
		{name: "ML-DSA-87", kind: kindAKP},
	}
}

// pqParams is the parameter set an algorithm names.
func pqParams(alg string) (mldsa.Parameters, bool) {
	switch alg {
	case "ML-DSA-44":
		return mldsa.MLDSA44(), true
	case "ML-DSA-65":
		return mldsa.MLDSA65(), true
	case "ML-DSA-87":
		return mldsa.MLDSA87(), true
	}
	return mldsa.Parameters{}, false
}

// parseAKP makes the public key of an AKP JWK for the algorithm alg (RFC
// 9964 §3: the key is bound to that one parameter set), from its "pub".
func parseAKP(alg string, pub []byte) (any, error) {
	params, ok := pqParams(alg)
	if !ok {
		return nil, fmt.Errorf("alg %q is not an ML-DSA algorithm", alg)
	}
	if len(pub) != params.PublicKeySize() {
		return nil, fmt.Errorf("an %s public key of %d bytes; want %d", alg, len(pub), params.PublicKeySize())
	}
	return mldsa.NewPublicKey(params, pub)
}

// pqFits reports whether a (an ML-DSA algorithm, or any other) may verify
// with k: an ML-DSA key fits only the algorithm of its own parameter set.
func pqFits(a *algorithm, k *verificationKey) bool {
	pub, ok := k.public.(*mldsa.PublicKey)
	if !ok || a.kind != kindAKP {
		return false
	}
	params, _ := pqParams(a.name)
	return pub.Parameters() == params
}

// pqVerify checks an ML-DSA signature over message; its length must be
// exactly the parameter set's.
func pqVerify(a *algorithm, k *verificationKey, message, sig []byte) bool {
	pub, ok := k.public.(*mldsa.PublicKey)
	if !ok {
		return false
	}
	params, _ := pqParams(a.name)
	if pub.Parameters() != params || len(sig) != params.SignatureSize() {
		return false
	}
	return mldsa.Verify(pub, message, sig, nil) == nil
}

var errPQPrivate = errors.New("is an ML-DSA private key; pass its public key (the PublicKey method) instead")

// pqStaticKey accepts an *mldsa.PublicKey from Config.Keys.
func pqStaticKey(key any) (any, bool, error) {
	switch k := key.(type) {
	case *mldsa.PublicKey:
		if k == nil {
			return nil, true, errors.New("is a nil ML-DSA key")
		}
		return k, true, nil
	case *mldsa.PrivateKey:
		return nil, true, errPQPrivate
	}
	return nil, false, nil
}
