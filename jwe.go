package accesstoken

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// This file is the JWE step of the pipeline (RFC 7516, nested JWT RFC 7519
// §5.2): a five-part token is decrypted with one of the resource server's
// keys, then the JWS inside is verified like any access token. go-jose
// does the key management and content decryption, each restricted to the
// algorithms allowed here; this file decides which key may be tried, and
// what the plaintext must be.

// DecryptionConfig holds the resource server's keys for access tokens
// encrypted to it (JWE). See Config.Decryption.
type DecryptionConfig struct {
	// Keys are the decryption keys by "kid" ("" for a JWE without one): an
	// *rsa.PrivateKey (RSA-OAEP-256/384/512), an *ecdsa.PrivateKey or
	// *ecdh.PrivateKey on P-256, P-384 or P-521 (ECDH-ES, ECDH-ES+A*KW), a
	// crypto.Decrypter holding an RSA key (a KMS or HSM: RSA-OAEP-*), or a
	// []byte for dir (as long as the content encryption's key) or
	// A128KW/A192KW/A256KW (16, 24, 32 bytes). Several keys under their
	// kids let the authorization server rotate. Required.
	Keys map[string]any

	// KeyAlgorithms are the JWE "alg" values accepted. Nil means
	// RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512, ECDH-ES, ECDH-ES+A128KW,
	// ECDH-ES+A192KW and ECDH-ES+A256KW, plus dir, A128KW, A192KW and A256KW
	// when Keys holds a []byte. RSA1_5 and PBES2 are never accepted.
	KeyAlgorithms []string

	// ContentEncryption are the JWE "enc" values accepted. Nil means
	// A128GCM, A192GCM, A256GCM, A128CBC-HS256, A192CBC-HS384 and
	// A256CBC-HS512.
	ContentEncryption []string
}

var (
	asymmetricKeyAlgs = []string{"RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"}
	symmetricKeyAlgs  = []string{"dir", "A128KW", "A192KW", "A256KW"}
	contentEncs       = []string{"A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"}
	encKeySize        = map[string]int{"A128GCM": 16, "A192GCM": 24, "A256GCM": 32, "A128CBC-HS256": 32, "A192CBC-HS384": 48, "A256CBC-HS512": 64}
	kwKeySize         = map[string]int{"A128KW": 16, "A192KW": 24, "A256KW": 32}
)

// decryptionKey is one configured key, ready for go-jose.
type decryptionKey struct {
	key  any    // *rsa.PrivateKey, *ecdsa.PrivateKey, []byte or a jose.OpaqueKeyDecrypter
	kind string // "rsa", "ec" or "secret"
	size int    // the secret's length
}

// fits reports whether k may be used with key management alg.
func (k *decryptionKey) fits(alg string) bool {
	switch {
	case strings.HasPrefix(alg, "RSA-OAEP"):
		return k.kind == "rsa"
	case strings.HasPrefix(alg, "ECDH-ES"):
		return k.kind == "ec"
	case alg == "dir":
		return k.kind == "secret" && slices.ContainsFunc(contentEncs, func(e string) bool { return encKeySize[e] == k.size })
	}
	return k.kind == "secret" && kwKeySize[alg] == k.size
}

type decrypter struct {
	keys     map[string]*decryptionKey
	keyAlgs  []jose.KeyAlgorithm
	encs     []jose.ContentEncryption
	allowKey map[string]bool
	allowEnc map[string]bool
}

func newDecrypter(cfg DecryptionConfig) (*decrypter, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("accesstoken: DecryptionConfig.Keys is empty")
	}
	d := &decrypter{keys: map[string]*decryptionKey{}, allowKey: map[string]bool{}, allowEnc: map[string]bool{}}
	hasSecret := false
	for kid, raw := range cfg.Keys {
		k, err := decryptionKeyOf(raw)
		if err != nil {
			return nil, fmt.Errorf("accesstoken: DecryptionConfig.Keys[%q]: %w", kid, err)
		}
		hasSecret = hasSecret || k.kind == "secret"
		d.keys[kid] = k
	}
	keyAlgs, encs := cfg.KeyAlgorithms, cfg.ContentEncryption
	if keyAlgs == nil {
		keyAlgs = asymmetricKeyAlgs
		if hasSecret {
			keyAlgs = append(slices.Clone(keyAlgs), symmetricKeyAlgs...)
		}
	}
	if encs == nil {
		encs = contentEncs
	}
	for _, a := range keyAlgs {
		if !slices.Contains(asymmetricKeyAlgs, a) && !slices.Contains(symmetricKeyAlgs, a) {
			return nil, fmt.Errorf("accesstoken: DecryptionConfig.KeyAlgorithms: %q is not accepted (RSA1_5 and PBES2 never are)", a)
		}
		d.allowKey[a] = true
		d.keyAlgs = append(d.keyAlgs, jose.KeyAlgorithm(a))
	}
	for _, e := range encs {
		if !slices.Contains(contentEncs, e) {
			return nil, fmt.Errorf("accesstoken: DecryptionConfig.ContentEncryption: %q is not accepted", e)
		}
		d.allowEnc[e] = true
		d.encs = append(d.encs, jose.ContentEncryption(e))
	}
	if len(d.keyAlgs) == 0 || len(d.encs) == 0 {
		return nil, errors.New("accesstoken: DecryptionConfig.KeyAlgorithms and ContentEncryption must not be empty; nil means the defaults")
	}
	for kid, k := range d.keys {
		if !slices.ContainsFunc(keyAlgs, k.fits) {
			return nil, fmt.Errorf("accesstoken: DecryptionConfig.Keys[%q] fits none of the accepted key algorithms %v", kid, keyAlgs)
		}
	}
	return d, nil
}

// decryptionKeyOf checks one configured key.
func decryptionKeyOf(raw any) (*decryptionKey, error) {
	switch k := raw.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("RSA keys need at least 2048 bits")
		}
		// Unwrapped here, not by go-jose, which knows RSA-OAEP-256 alone.
		return &decryptionKey{key: opaqueRSA{k}, kind: "rsa"}, nil
	case *ecdsa.PrivateKey:
		if !nistCurve(k.Curve) {
			return nil, errors.New("EC keys must be on P-256, P-384 or P-521")
		}
		return &decryptionKey{key: k, kind: "ec"}, nil
	case *ecdh.PrivateKey:
		curve := map[ecdh.Curve]elliptic.Curve{ecdh.P256(): elliptic.P256(), ecdh.P384(): elliptic.P384(), ecdh.P521(): elliptic.P521()}[k.Curve()]
		if curve == nil {
			return nil, errors.New("ECDH keys must be on P-256, P-384 or P-521 (JOSE has no X25519 key management here)")
		}
		ek, err := ecdsa.ParseRawPrivateKey(curve, k.Bytes())
		if err != nil {
			return nil, err
		}
		return &decryptionKey{key: ek, kind: "ec"}, nil
	case []byte:
		if len(k) < 16 {
			return nil, errors.New("a secret needs at least 16 bytes")
		}
		return &decryptionKey{key: slices.Clone(k), kind: "secret", size: len(k)}, nil
	case crypto.Decrypter:
		pub, ok := k.Public().(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a crypto.Decrypter must hold an RSA key, not %T", k.Public())
		}
		if pub.N.BitLen() < 2048 {
			return nil, errors.New("RSA keys need at least 2048 bits")
		}
		return &decryptionKey{key: opaqueRSA{k}, kind: "rsa"}, nil
	}
	return nil, fmt.Errorf("%T is not a decryption key (public keys cannot decrypt)", raw)
}

func nistCurve(c elliptic.Curve) bool {
	return c == elliptic.P256() || c == elliptic.P384() || c == elliptic.P521()
}

// opaqueRSA unwraps a content key with RSA-OAEP and the header's hash (a
// crypto.Decrypter: an *rsa.PrivateKey, or a KMS or HSM key).
type opaqueRSA struct{ d crypto.Decrypter }

func (o opaqueRSA) DecryptKey(encryptedKey []byte, h jose.Header) ([]byte, error) {
	hash := map[string]crypto.Hash{"RSA-OAEP-256": crypto.SHA256, "RSA-OAEP-384": crypto.SHA384, "RSA-OAEP-512": crypto.SHA512}[h.Algorithm]
	if hash == 0 {
		return nil, fmt.Errorf("key management %q does not fit an RSA key", h.Algorithm)
	}
	return o.d.Decrypt(rand.Reader, encryptedKey, &rsa.OAEPOptions{Hash: hash})
}

// jweHeader is what the validator reads of a JWE's protected header.
type jweHeader struct {
	alg, enc, kid, cty string
	hasKID             bool
	iss, sub           *string
	aud                []string
	hasAud             bool
}

// parseJWEHeader reads the protected header strictly (the token's first
// segment): no duplicate members, no "zip", known "alg" and "enc".
func (d *decrypter) parseJWEHeader(segment string) (*jweHeader, error) {
	raw, err := decodeSegment(segment)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	members, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := &jweHeader{}
	for _, m := range members {
		var s string
		switch string(m.name) {
		case "alg":
			h.alg, err = jsonString(m.value)
		case "enc":
			h.enc, err = jsonString(m.value)
		case "kid":
			h.kid, err = jsonString(m.value)
			h.hasKID = true
		case "cty":
			h.cty, err = jsonString(m.value)
		case "iss":
			s, err = jsonString(m.value)
			h.iss = &s
		case "sub":
			s, err = jsonString(m.value)
			h.sub = &s
		case "aud":
			h.aud, err = jsonStringOrStrings(m.value)
			h.hasAud = true
		case "zip":
			return nil, errors.New(`header has "zip": compressed tokens are refused`)
		case "crit":
			return nil, errors.New(`header has "crit": no extension is understood`)
		}
		if err != nil {
			return nil, fmt.Errorf("header member %q: %w", m.name, err)
		}
	}
	switch {
	case !d.allowKey[h.alg]:
		return nil, fmt.Errorf("key management %q is not accepted", truncate(h.alg))
	case !d.allowEnc[h.enc]:
		return nil, fmt.Errorf("content encryption %q is not accepted", truncate(h.enc))
	}
	return h, nil
}

// nestedJWT reports whether cty announces a JWT (RFC 7519 §5.2).
func nestedJWT(cty string) bool {
	t := strings.ToLower(cty)
	t = strings.TrimPrefix(t, "application/")
	return t == "jwt" || t == "at+jwt"
}

// decrypt opens a JWE. It returns the nested JWS, or, for an unsigned
// payload (allowed only under symmetric key management), the claims JSON.
func (d *decrypter) decrypt(token string) (h *jweHeader, jws string, claims []byte, err error) {
	first, _, _ := strings.Cut(token, ".")
	if h, err = d.parseJWEHeader(first); err != nil {
		return nil, "", nil, err
	}
	k := d.keys[h.kid] // a JWE without kid: only the "" key
	if !h.hasKID {
		k = d.keys[""]
	}
	if k == nil {
		return nil, "", nil, fmt.Errorf("no decryption key %q", truncate(h.kid))
	}
	if !k.fits(h.alg) {
		return nil, "", nil, fmt.Errorf("key %q does not fit key management %s", truncate(h.kid), h.alg)
	}
	symmetric := slices.Contains(symmetricKeyAlgs, h.alg)
	if h.cty == "" && !symmetric {
		return nil, "", nil, errors.New(`a JWE without "cty" would carry unsigned claims, and anyone can encrypt to a public key`)
	}
	if h.cty != "" && !nestedJWT(h.cty) {
		return nil, "", nil, fmt.Errorf("cty %q is not a JWT", truncate(h.cty))
	}
	if h.alg == "dir" || h.alg == "ECDH-ES" {
		// RFC 7516 §5.2 step 10: direct encryption and direct key
		// agreement carry no encrypted key; go-jose would ignore one.
		if _, rest, _ := strings.Cut(token, "."); !strings.HasPrefix(rest, ".") {
			return nil, "", nil, fmt.Errorf("a JWE under %s must have an empty encrypted key (RFC 7516 §5.2)", h.alg)
		}
	}
	obj, err := jose.ParseEncryptedCompact(token, d.keyAlgs, d.encs)
	if err != nil {
		return nil, "", nil, fmt.Errorf("parsing: %w", err)
	}
	plain, err := obj.Decrypt(k.key)
	if err != nil {
		return nil, "", nil, errors.New("decryption failed") // go-jose's text may name the key's size; keep it fixed
	}
	if h.cty == "" {
		return h, "", plain, nil
	}
	inner := string(plain)
	if !isJWS(inner) {
		return nil, "", nil, errors.New("the decrypted payload is not a JWS (a JWE inside a JWE, or not a JWT)")
	}
	return h, inner, nil, nil
}

// replicated checks the header members that replicate claims (RFC 7519
// §5.3): each must equal the inner claim; a string equals a one-item
// array, and arrays compare as sets.
func (h *jweHeader) replicated(c *Claims) error {
	switch {
	case h.iss != nil && *h.iss != c.Issuer:
		return fmt.Errorf("header iss %q is not the token's iss", truncate(*h.iss))
	case h.sub != nil && *h.sub != c.Subject:
		return errors.New("header sub is not the token's sub")
	case h.hasAud && !sameSet(h.aud, c.Audience):
		return errors.New("header aud is not the token's aud")
	}
	return nil
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// checkJWE is the validator's path for a five-part token.
func (v *Validator) checkJWE(ctx context.Context, token string) (*Claims, *Error) {
	if v.verified != nil {
		if hit := v.verified.lookup(token); hit != nil && hit.owner == v {
			if c, e, ok := v.fromCache(token, hit); ok {
				return v.thenIntrospect(ctx, token, c, e)
			}
		}
	}
	h, jws, unsigned, err := v.decrypter.decrypt(token)
	if err != nil {
		return nil, newError(ErrInvalidToken, descJWE, err)
	}
	var pc *parsedClaims
	if jws != "" {
		_, rest, _ := strings.Cut(jws, ".")
		payload, _, _ := strings.Cut(rest, ".")
		var e *Error
		if pc, e = parsePayload(payload); e != nil {
			return nil, e
		}
	} else {
		p, err := parseClaims(unsigned)
		if err != nil {
			return nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("decrypted claims: %w", err))
		}
		pc = p
	}
	if err := h.replicated(&pc.Claims); err != nil {
		return nil, newError(ErrInvalidToken, descJWE, err)
	}
	var c *Claims
	var e *Error
	if jws != "" {
		c, e = v.verifyJWT(ctx, jws, token, pc)
	} else {
		// Unsigned claims under symmetric key management: the key that
		// decrypted them vouches for them. Not cached: no JWKS key to
		// follow.
		if e = v.checkClaims(pc, true); e == nil {
			c = &pc.Claims
		}
	}
	return v.thenIntrospect(ctx, token, c, e)
}

// PublicJWKS is the JWK Set of the public halves of Keys (RSA and EC, each
// with "use" "enc" and its kid; secrets are left out), for an authorization
// server that fetches the resource server's encryption keys (Okta, NetIQ):
// serve it at a URL and name that URL in ResourceMetadata.JWKSURI
// (RFC 9728 §2, "jwks_uri").
func (c DecryptionConfig) PublicJWKS() ([]byte, error) {
	kids := make([]string, 0, len(c.Keys))
	for kid := range c.Keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	keys := []map[string]any{}
	for _, kid := range kids {
		k, err := decryptionKeyOf(c.Keys[kid])
		if err != nil {
			return nil, fmt.Errorf("accesstoken: DecryptionConfig.Keys[%q]: %w", kid, err)
		}
		jwk := map[string]any{"use": "enc"}
		if kid != "" {
			jwk["kid"] = kid
		}
		switch key := k.key.(type) {
		case opaqueRSA:
			pub := key.d.Public().(*rsa.PublicKey)
			jwk["kty"], jwk["n"], jwk["e"] = "RSA", b64url(pub.N.Bytes()), b64url(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PrivateKey:
			raw, err := key.PublicKey.Bytes()
			if err != nil {
				return nil, err
			}
			size := (len(raw) - 1) / 2
			jwk["kty"], jwk["crv"] = "EC", key.Curve.Params().Name
			jwk["x"], jwk["y"] = b64url(raw[1:1+size]), b64url(raw[1+size:])
		default:
			continue // a secret is never published
		}
		keys = append(keys, jwk)
	}
	return json.Marshal(map[string]any{"keys": keys})
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
