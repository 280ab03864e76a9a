package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// keyKind is the JWK key type an algorithm needs.
type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindOKP
)

// algorithm is one JWS "alg" this package verifies (RFC 7518 §3, RFC 8037).
type algorithm struct {
	name   string
	kind   keyKind
	curve  elliptic.Curve // for ES*: the only curve the algorithm may use
	method jwt.SigningMethod
}

// pss verifies RSASSA-PSS with the salt length RFC 7518 §3.5 requires (the
// hash size), not golang-jwt's lenient "auto" default.
func pss(m *jwt.SigningMethodRSAPSS, h crypto.Hash) *jwt.SigningMethodRSAPSS {
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	return &jwt.SigningMethodRSAPSS{SigningMethodRSA: m.SigningMethodRSA, Options: opts, VerifyOptions: opts}
}

// supportedAlgorithms lists every asymmetric JWS algorithm this package can
// verify, in the default allow-list order. "none" and the HMAC algorithms are
// deliberately absent: a JWKS publishes public keys, and a public key must
// never serve as an HMAC secret (RFC 8725 §2.1, §3.1).
func supportedAlgorithms() []*algorithm {
	return []*algorithm{
		{name: "RS256", kind: kindRSA, method: jwt.SigningMethodRS256},
		{name: "RS384", kind: kindRSA, method: jwt.SigningMethodRS384},
		{name: "RS512", kind: kindRSA, method: jwt.SigningMethodRS512},
		{name: "PS256", kind: kindRSA, method: pss(jwt.SigningMethodPS256, crypto.SHA256)},
		{name: "PS384", kind: kindRSA, method: pss(jwt.SigningMethodPS384, crypto.SHA384)},
		{name: "PS512", kind: kindRSA, method: pss(jwt.SigningMethodPS512, crypto.SHA512)},
		{name: "ES256", kind: kindEC, curve: elliptic.P256(), method: jwt.SigningMethodES256},
		{name: "ES384", kind: kindEC, curve: elliptic.P384(), method: jwt.SigningMethodES384},
		{name: "ES512", kind: kindEC, curve: elliptic.P521(), method: jwt.SigningMethodES512},
		{name: "EdDSA", kind: kindOKP, method: jwt.SigningMethodEdDSA},
	}
}

var errKeyMismatch = errors.New("key does not fit the algorithm")

// fits reports whether key may verify signatures made with a. Key size and
// curve rules are enforced when keys are loaded; this is the per-token check
// that the token's algorithm matches the key's type and curve.
func (a *algorithm) fits(k *verificationKey) bool {
	if k.alg != "" && k.alg != a.name {
		return false
	}
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		return a.kind == kindRSA
	case *ecdsa.PublicKey:
		return a.kind == kindEC && pub.Curve == a.curve
	case ed25519.PublicKey:
		return a.kind == kindOKP
	}
	return false
}

// verify checks sig over signingInput with key.
func (a *algorithm) verify(signingInput string, sig []byte, k *verificationKey) error {
	if !a.fits(k) {
		return errKeyMismatch
	}
	return a.method.Verify(signingInput, sig, k.public)
}
