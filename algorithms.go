package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"sync"
)

// This file verifies JWS signatures (RFC 7518 §3, RFC 8037, RFC 9864) with
// the standard library's crypto packages directly: the signing input is
// hashed from the token text without a copy, and ECDSA signatures are
// checked without big.Int conversions. golang-jwt is still used to sign (test
// kit, private_key_jwt), never here.

// keyKind is the key type an algorithm needs.
type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindOKP
	kindHMAC // a []byte secret from Config.Keys; never from a JWKS
	kindAKP  // ML-DSA (RFC 9964), with Go 1.27 or newer: see mldsa.go
)

var errNoPQ = errors.New("ML-DSA needs a build with Go 1.27 or newer")

// algorithm is one JWS "alg" this package verifies. Each validator has its
// own instances (see supportedAlgorithms).
type algorithm struct {
	name  string
	kind  keyKind
	hash  crypto.Hash    // 0 for EdDSA and Ed25519, which hash internally
	pss   bool           // RSASSA-PSS rather than PKCS #1 v1.5
	curve elliptic.Curve // ES*: the only curve the algorithm may use
	// minSecret is the least HMAC secret length in bytes: the hash size
	// (RFC 7518 §3.2).
	minSecret int

	scratch sync.Pool // *verifyScratch, so that verifying allocates nothing
}

// verifyScratch is the memory one verification works in: the hasher, the
// digest, and the signing input (EdDSA) or the DER signature (ECDSA).
type verifyScratch struct {
	h      hash.Hash
	digest [sha512.Size]byte
	chunk  [hashChunk]byte
	buf    []byte
}

// maxStackSignature is the largest signature decoded on the stack: RSA 4096
// and every EC and EdDSA signature fit.
const maxStackSignature = 512

// pssOptions demands a salt of exactly the hash size (RFC 7518 §3.5), not
// whatever length the signature happens to carry.
var pssOptions = rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// supportedAlgorithms lists every JWS algorithm this package can verify, the
// asymmetric ones in the default allow-list order. "none" is deliberately
// absent. The HMAC algorithms are never in the default list and never verify
// with a key from a JWKS: a public key must never serve as an HMAC secret
// (RFC 8725 §2.1, §3.1).
func supportedAlgorithms() []*algorithm {
	return append([]*algorithm{
		{name: "RS256", kind: kindRSA, hash: crypto.SHA256},
		{name: "RS384", kind: kindRSA, hash: crypto.SHA384},
		{name: "RS512", kind: kindRSA, hash: crypto.SHA512},
		{name: "PS256", kind: kindRSA, hash: crypto.SHA256, pss: true},
		{name: "PS384", kind: kindRSA, hash: crypto.SHA384, pss: true},
		{name: "PS512", kind: kindRSA, hash: crypto.SHA512, pss: true},
		{name: "ES256", kind: kindEC, hash: crypto.SHA256, curve: elliptic.P256()},
		{name: "ES384", kind: kindEC, hash: crypto.SHA384, curve: elliptic.P384()},
		{name: "ES512", kind: kindEC, hash: crypto.SHA512, curve: elliptic.P521()},
		{name: "EdDSA", kind: kindOKP},
		{name: "Ed25519", kind: kindOKP},
		{name: "HS256", kind: kindHMAC, hash: crypto.SHA256, minSecret: 32},
		{name: "HS384", kind: kindHMAC, hash: crypto.SHA384, minSecret: 48},
		{name: "HS512", kind: kindHMAC, hash: crypto.SHA512, minSecret: 64},
	}, pqAlgorithms()...)
}

// sameAlgorithm reports whether a key labelled with JWK "alg" jwkAlg may
// verify tokens whose header names token. For an Ed25519 key, "EdDSA" and
// "Ed25519" (RFC 9864 §2) name the same signature, so either label admits
// either token alg; whether the token's alg is allowed at all is the
// allow-list's business.
func sameAlgorithm(jwkAlg, token string) bool {
	return jwkAlg == token || isEd25519Name(jwkAlg) && isEd25519Name(token)
}

func isEd25519Name(alg string) bool { return alg == "EdDSA" || alg == "Ed25519" }

var (
	errKeyMismatch = errors.New("key does not fit the algorithm")
	errSignature   = errors.New("signature does not verify")
)

// fits reports whether key may verify signatures made with a. Key size and
// curve rules are enforced when keys are loaded; this is the per-token check
// that the token's algorithm matches the key's type, curve and label.
func (a *algorithm) fits(k *verificationKey) bool {
	if k.alg != "" && !sameAlgorithm(k.alg, a.name) {
		return false
	}
	if a.kind == kindAKP {
		return pqFits(a, k)
	}
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		return a.kind == kindRSA
	case *ecdsa.PublicKey:
		return a.kind == kindEC && pub.Curve == a.curve
	case ed25519.PublicKey:
		return a.kind == kindOKP
	case []byte:
		return a.kind == kindHMAC && len(pub) >= a.minSecret
	}
	return false
}

// verify checks sig over signingInput with key.
func (a *algorithm) verify(signingInput string, sig []byte, k *verificationKey) error {
	if !a.fits(k) {
		return errKeyMismatch
	}
	sc, _ := a.scratch.Get().(*verifyScratch)
	if sc == nil {
		sc = &verifyScratch{}
		if a.hash != 0 && a.kind != kindHMAC {
			sc.h = a.hash.New()
		}
	}
	defer a.scratch.Put(sc)
	var d []byte
	if sc.h != nil {
		sc.h.Reset()
		d = hashString(sc.h, signingInput, sc.digest[:0], sc.chunk[:])
	}
	ok := false
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		var err error
		if a.pss {
			opts := pssOptions
			opts.Hash = a.hash
			err = rsa.VerifyPSS(pub, a.hash, d, sig, &opts)
		} else {
			err = rsa.VerifyPKCS1v15(pub, a.hash, d, sig)
		}
		ok = err == nil
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R || S, each the curve's byte size. DER, or any
		// other length, is refused.
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) == 2*size {
			sc.buf = appendDERSignature(sc.buf[:0], sig[:size], sig[size:])
			ok = ecdsa.VerifyASN1(pub, d, sc.buf)
		}
	case ed25519.PublicKey:
		if len(sig) == ed25519.SignatureSize {
			sc.buf = append(sc.buf[:0], signingInput...)
			ok = ed25519.Verify(pub, sc.buf, sig)
		}
	case []byte:
		mac := hashString(hmac.New(a.hash.New, pub), signingInput, sc.digest[:0], sc.chunk[:])
		ok = hmac.Equal(mac, sig)
	default: // ML-DSA: the message is the signing input itself
		sc.buf = append(sc.buf[:0], signingInput...)
		ok = pqVerify(a, k, sc.buf, sig)
	}
	if cap(sc.buf) > maxTokenBytes {
		sc.buf = nil // keep no oversized buffer in the pool
	}
	if !ok {
		return errSignature
	}
	return nil
}

// hashChunk is the size of the buffer strings are hashed through.
const hashChunk = 512

// hashString writes s to h through chunk, so that the token text is never
// copied whole, and appends the sum to out. chunk is caller-owned scratch
// (a buffer handed to an interface method would escape to the heap).
func hashString(h hash.Hash, s string, out, chunk []byte) []byte {
	for len(s) > 0 {
		n := copy(chunk, s)
		h.Write(chunk[:n])
		s = s[n:]
	}
	return h.Sum(out)
}

// hashPool hashes strings with SHA-256 from pooled scratch: no copy of the
// strings and no allocation once warm.
type hashPool struct{ pool sync.Pool }

type hashScratch struct {
	h     hash.Hash
	chunk [hashChunk]byte
	sum   [sha256.Size]byte
}

// sum256 is the SHA-256 of the concatenation of parts.
func (hp *hashPool) sum256(parts ...string) [sha256.Size]byte {
	sc, _ := hp.pool.Get().(*hashScratch)
	if sc == nil {
		sc = &hashScratch{h: sha256.New()}
	}
	sc.h.Reset()
	for _, s := range parts {
		for len(s) > 0 {
			n := copy(sc.chunk[:], s)
			sc.h.Write(sc.chunk[:n])
			s = s[n:]
		}
	}
	sc.h.Sum(sc.sum[:0])
	out := sc.sum
	hp.pool.Put(sc)
	return out
}

// appendDERSignature appends the ASN.1 DER encoding of the ECDSA signature
// SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2.3) for big-endian r and s
// of at most 66 bytes each.
func appendDERSignature(out, r, s []byte) []byte {
	ri, si := derIntegerBody(r), derIntegerBody(s)
	rl, sl := derIntegerLen(ri), derIntegerLen(si)
	out = append(out, 0x30)
	if n := 2 + rl + 2 + sl; n < 0x80 {
		out = append(out, byte(n))
	} else {
		out = append(out, 0x81, byte(n))
	}
	out = appendDERInteger(out, ri)
	return appendDERInteger(out, si)
}

// derIntegerBody drops leading zero bytes (keeping one for zero).
func derIntegerBody(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// derIntegerLen is the content length of a non-negative INTEGER body: a zero
// byte goes first when the high bit is set.
func derIntegerLen(b []byte) int {
	if len(b) > 0 && b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendDERInteger(out, b []byte) []byte {
	out = append(out, 0x02, byte(derIntegerLen(b)))
	if len(b) > 0 && b[0]&0x80 != 0 {
		out = append(out, 0)
	}
	return append(out, b...)
}
