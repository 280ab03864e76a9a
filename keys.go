package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
)

// This file turns a JWKS document (RFC 7517 §5) into the keys a token may be
// verified with. jwkset does the JWK-to-crypto conversion and its consistency
// checks (curve points, x5c against the key); the policy of which keys are
// fit to verify access tokens is ours and applied first.

// errROCA refuses an RSA key made by the library of CVE-2017-15361 (see
// roca.go): its private key can be computed from the public one.
var errROCA = errors.New("RSA key has the ROCA weakness (CVE-2017-15361): its modulus can be factored, so the issuer must replace the key")

const (
	maxJWKSKeys = 100  // a larger "keys" array is a hostile document
	minRSABits  = 2048 // RFC 7518 §3.3
	maxRSABits  = 8192 // bigger keys only make verification slow
)

// verificationKey is one public key from the issuer's JWKS, ready to verify.
type verificationKey struct {
	kid    string
	alg    string // the JWK's "alg", "" when absent
	public crypto.PublicKey
}

// keySet is an immutable set of keys; it is swapped whole on refresh.
type keySet struct {
	keys  []*verificationKey
	byKID map[string][]*verificationKey
	// exactKID is set for Config.Keys: a token without "kid" may use only
	// the key under "", never any key that fits.
	exactKID bool
}

// pool returns the keys that may verify a token signed under kid: those
// with that kid, or, when the token names none, every key of a JWKS or the
// "" key of Config.Keys. The caller still checks that a key fits the
// algorithm.
func (s *keySet) pool(kid []byte, hasKID bool) []*verificationKey {
	if hasKID || s.exactKID {
		return s.byKID[string(kid)]
	}
	return s.keys
}

// anyFits reports whether one of keys may verify a token signed with a.
func anyFits(a *algorithm, keys []*verificationKey) bool {
	for _, k := range keys {
		if a.fits(k) {
			return true
		}
	}
	return false
}

var (
	errJWKSNotObject = errors.New("JWKS is not a JSON object with a \"keys\" array")
	errJWKSNoKeys    = errors.New("JWKS has no key usable for verification")
)

// parseJWKS reads a JWKS document. Keys that are unfit to verify are left out
// and reported in skipped, then keys under an ambiguous kid are dropped and
// the kid reported; a document with no usable key left is an error, so that
// the caller keeps its last good keys.
func parseJWKS(doc []byte, allowed map[string]*algorithm) (set *keySet, skipped []error, ambiguous []string, err error) {
	members, err := parseObject(doc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []byte
	for _, m := range members {
		if string(m.name) == "keys" {
			keys = m.value
		}
	}
	if len(keys) == 0 || keys[0] != '[' {
		return nil, nil, nil, errJWKSNotObject
	}
	items, err := jsonArray(keys, maxJWKSKeys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("JWKS keys: %w", err)
	}
	var usable []*verificationKey
	for i, item := range items {
		k, err := parseJWK(item, allowed)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		usable = append(usable, k)
	}
	usable, ambiguous = dropAmbiguous(usable, allowed)
	set = newKeySet(usable)
	if len(set.keys) == 0 {
		return nil, skipped, ambiguous, errJWKSNoKeys
	}
	return set, skipped, ambiguous, nil
}

func newKeySet(keys []*verificationKey) *keySet {
	set := &keySet{keys: keys, byKID: make(map[string][]*verificationKey, len(keys))}
	for _, k := range keys {
		set.byKID[k.kid] = append(set.byKID[k.kid], k)
	}
	return set
}

// dropAmbiguous applies RFC 7517 §4.5 ("kid" values should be distinct) to
// usable keys: when one kid names two different keys that could verify the
// same algorithm, the kid does not say which key signed a token, so those
// keys are dropped and their kids returned. Identical duplicates count once;
// keys without a kid, and same-kid keys that share no algorithm (an RSA and
// an EC key, two curves, RS256- and PS256-labelled keys), are not ambiguous.
func dropAmbiguous(keys []*verificationKey, allowed map[string]*algorithm) (kept []*verificationKey, ambiguous []string) {
	drop := make([]bool, len(keys))
	dup := make([]bool, len(keys))
	for i, a := range keys {
		if a.kid == "" || dup[i] {
			continue
		}
		for j := i + 1; j < len(keys); j++ {
			b := keys[j]
			if b.kid != a.kid || dup[j] {
				continue
			}
			if a.alg == b.alg && samePublicKey(a.public, b.public) {
				dup[j] = true
				continue
			}
			if !samePublicKey(a.public, b.public) && shareAlgorithm(a, b, allowed) {
				drop[i], drop[j] = true, true
			}
		}
	}
	for i, k := range keys {
		switch {
		case dup[i]:
		case drop[i]:
			if !slices.Contains(ambiguous, k.kid) {
				ambiguous = append(ambiguous, k.kid)
			}
		default:
			kept = append(kept, k)
		}
	}
	return kept, ambiguous
}

// shareAlgorithm reports whether an allowed algorithm fits both keys.
func shareAlgorithm(a, b *verificationKey, allowed map[string]*algorithm) bool {
	for _, alg := range allowed {
		if alg.fits(a) && alg.fits(b) {
			return true
		}
	}
	return false
}

// samePublicKey reports whether a and b are the same key.
func samePublicKey(a, b crypto.PublicKey) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && hmac.Equal(x, y)
	}
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	x, ok := a.(equaler)
	return ok && x.Equal(b)
}

// privateJWKMembers are the members that only a private or symmetric key has
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2; RFC 9964 §3: "priv"). A JWKS
// that publishes one has
// leaked a secret or is hostile; such a key is never used.
var privateJWKMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// parseJWK applies the key policy to one JWK and converts it.
func parseJWK(item []byte, allowed map[string]*algorithm) (*verificationKey, error) {
	members, err := parseObject(item)
	if err != nil {
		return nil, err
	}
	var m jwkset.JWKMarshal
	var kid, alg string
	var hasKeyOps bool
	var keyOps []string
	var pub string // AKP (RFC 9964)
	for _, mem := range members {
		for _, priv := range privateJWKMembers {
			if string(mem.name) == priv {
				return nil, fmt.Errorf("has private member %q", priv)
			}
		}
		var s string
		switch string(mem.name) {
		case "kty", "use", "alg", "kid", "crv", "n", "e", "x", "y", "x5t", "x5t#S256", "pub":
			if s, err = jsonString(mem.value); err != nil {
				return nil, fmt.Errorf("member %q: %w", mem.name, err)
			}
		case "key_ops":
			hasKeyOps = true
			if keyOps, err = jsonStrings(mem.value); err != nil {
				return nil, fmt.Errorf("member %q: %w", mem.name, err)
			}
		case "x5c":
			if m.X5C, err = jsonStrings(mem.value); err != nil {
				return nil, fmt.Errorf("member %q: %w", mem.name, err)
			}
		}
		switch string(mem.name) {
		case "kty":
			m.KTY = jwkset.KTY(s)
		case "use":
			if s != "sig" {
				return nil, fmt.Errorf("use is %q, not \"sig\"", s)
			}
		case "alg":
			alg = s
		case "kid":
			kid = s
		case "crv":
			m.CRV = jwkset.CRV(s)
		case "n":
			m.N = s
		case "e":
			m.E = s
		case "x":
			m.X = s
		case "y":
			m.Y = s
		case "x5t":
			m.X5T = s
		case "x5t#S256":
			m.X5TS256 = s
		case "pub":
			pub = s
		}
	}
	if hasKeyOps && !slices.Contains(keyOps, "verify") {
		return nil, errors.New("key_ops does not allow \"verify\"")
	}
	var want keyKind
	switch m.KTY {
	case jwkset.KtyRSA:
		want = kindRSA
	case jwkset.KtyEC:
		want = kindEC
	case jwkset.KtyOKP:
		want = kindOKP
	case "AKP":
		if !pqSupported {
			return nil, errNoPQ
		}
		want = kindAKP
	default:
		return nil, fmt.Errorf("kty %q cannot verify", m.KTY)
	}
	var labelled *algorithm
	if alg != "" {
		for _, a := range allowed {
			if sameAlgorithm(alg, a.name) {
				labelled = a
			}
		}
		if labelled == nil {
			return nil, fmt.Errorf("alg %q is not allowed", alg)
		}
		if labelled.kind != want {
			return nil, fmt.Errorf("alg %q does not fit kty %q", alg, m.KTY)
		}
	}
	if want == kindAKP {
		// RFC 9964 §3: an AKP key is bound to the one algorithm its "alg"
		// names; without it the key is unusable.
		if labelled == nil {
			return nil, errors.New(`an AKP key without "alg" is unusable`)
		}
		raw, err := decodeSegment(pub)
		if err != nil || pub == "" {
			return nil, errors.New(`an AKP key whose "pub" is not base64url`)
		}
		key, err := parseAKP(alg, raw)
		if err != nil {
			return nil, err
		}
		return &verificationKey{kid: kid, alg: alg, public: key}, nil
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	k := &verificationKey{kid: kid, alg: alg, public: j.Key()}
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits", bits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("RSA public exponent %d", pub.E)
		}
		if hasROCAFingerprint(pub.N) {
			return nil, errROCA
		}
	case *ecdsa.PublicKey:
		if labelled != nil && labelled.curve != pub.Curve {
			return nil, fmt.Errorf("alg %q does not fit curve %q", alg, m.CRV)
		}
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key size")
		}
		if weakEd25519(pub) {
			return nil, errors.New("Ed25519 key is a small-order or non-canonical point")
		}
	default:
		return nil, fmt.Errorf("key type %T cannot verify", pub)
	}
	return k, nil
}

// weakEd25519 reports whether pub is a non-canonical encoding (y >= p) or a
// point of small order. With such a key, signatures verify under Go's
// cofactorless check for messages the key holder never signed: with the
// identity point as the key, (R, S) = ([S]B, S) verifies for every message.
// The list is that of libsodium's crypto_sign_verify.
func weakEd25519(pub []byte) bool {
	// y is the low 255 bits, little-endian; p = 2^255 - 19. y >= p means
	// bytes 1..30 are 0xff, byte 31 is 0x7f (sign bit aside) and byte 0 is
	// at least 0xed.
	nonCanonical := pub[0] >= 0xed && pub[31]&0x7f == 0x7f
	for _, b := range pub[1:31] {
		nonCanonical = nonCanonical && b == 0xff
	}
	if nonCanonical {
		return true
	}
	// The y coordinates (sign bit clear) of the points of order 1, 2, 4
	// and 8 on edwards25519.
	smallOrder := [...][32]byte{
		{0x01}, // order 1: the identity, y = 1
		{0x00}, // order 4: y = 0
		{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // order 2: y = -1
		{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}, // order 8
		{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}, // order 8
	}
	var y [32]byte
	copy(y[:], pub)
	y[31] &= 0x7f // the sign of x does not change the order
	for _, weak := range smallOrder {
		if y == weak {
			return true
		}
	}
	return false
}

// staticKeySet checks Config.Keys against the allow-list and turns it into a
// key set. Every refusal says what to change.
func staticKeySet(keys map[string]any, allowed map[string]*algorithm) (*keySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("accesstoken: Config.Keys is empty; leave it nil to use the issuer's JWKS")
	}
	kids := slices.Sorted(maps.Keys(keys)) // a stable order, for stable messages
	var list []*verificationKey
	for _, kid := range kids {
		k := &verificationKey{kid: kid}
		where := fmt.Sprintf("accesstoken: Config.Keys[%q]", kid)
		switch pub := keys[kid].(type) {
		case *rsa.PublicKey:
			if pub == nil || pub.N == nil {
				return nil, fmt.Errorf("%s is a nil RSA key", where)
			}
			if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
				return nil, fmt.Errorf("%s is an RSA key of %d bits; use %d to %d bits (RFC 7518 §3.3)", where, bits, minRSABits, maxRSABits)
			}
			if pub.E < 3 || pub.E%2 == 0 {
				return nil, fmt.Errorf("%s has RSA public exponent %d", where, pub.E)
			}
			if hasROCAFingerprint(pub.N) {
				return nil, fmt.Errorf("%s: %w", where, errROCA)
			}
			k.public = pub
		case *ecdsa.PublicKey:
			if pub == nil || pub.Curve == nil {
				return nil, fmt.Errorf("%s is a nil ECDSA key", where)
			}
			if _, err := pub.ECDH(); err != nil { // also checks the point is on the curve
				return nil, fmt.Errorf("%s: %w; use a P-256, P-384 or P-521 key", where, err)
			}
			k.public = pub
		case ed25519.PublicKey:
			if len(pub) != ed25519.PublicKeySize || weakEd25519(pub) {
				return nil, fmt.Errorf("%s is not a usable Ed25519 public key", where)
			}
			k.public = pub
		case []byte:
			k.public = slices.Clone(pub) // the caller's slice may change later
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
			return nil, fmt.Errorf("%s is a private key; pass its public key (the Public method) instead", where)
		case string:
			return nil, fmt.Errorf("%s is a string; pass an HMAC secret as []byte", where)
		default:
			pq, ok, err := pqStaticKey(pub)
			switch {
			case err != nil:
				return nil, fmt.Errorf("%s %v", where, err)
			case !ok:
				return nil, fmt.Errorf("%s is a %T; use *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, *mldsa.PublicKey (Go 1.27) or a []byte HMAC secret", where, pub)
			}
			k.public = pq
		}
		if !anyAllowedFits(k, allowed) {
			return nil, fmt.Errorf("%s: %s", where, noAlgorithmFor(k, allowed))
		}
		list = append(list, k)
	}
	for _, a := range allowed {
		if a.kind == kindHMAC && !anyFits(a, list) {
			return nil, fmt.Errorf("accesstoken: Config.Algorithms names %s, but Config.Keys has no HMAC secret of at least %d bytes for it", a.name, a.minSecret)
		}
	}
	set := newKeySet(list)
	set.exactKID = true
	return set, nil
}

func anyAllowedFits(k *verificationKey, allowed map[string]*algorithm) bool {
	for _, a := range allowed {
		if a.fits(k) {
			return true
		}
	}
	return false
}

// noAlgorithmFor says why no allowed algorithm fits k.
func noAlgorithmFor(k *verificationKey, allowed map[string]*algorithm) string {
	secret, isSecret := k.public.([]byte)
	if !isSecret {
		return "no algorithm in Config.Algorithms fits this key; add one for its type"
	}
	var hs []string
	for _, a := range supportedAlgorithms() {
		if a.kind == kindHMAC && allowed[a.name] != nil {
			hs = append(hs, fmt.Sprintf("%s needs %d", a.name, a.minSecret))
		}
	}
	if len(hs) == 0 {
		return "an HMAC secret needs HS256, HS384 or HS512 in Config.Algorithms"
	}
	return fmt.Sprintf("the HMAC secret has %d bytes; %s (RFC 7518 §3.2)", len(secret), strings.Join(hs, ", "))
}
