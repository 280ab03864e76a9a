package accesstoken

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// This file parses the JWS Compact Serialization (RFC 7515 §7.1) of a JWT
// strictly, before any key is looked up:
//
//   - exactly three segments of canonical unpadded base64url (RFC 7515 §2):
//     no padding, no '+' or '/', no white space, no stray trailing bits;
//   - the header is a JSON object with no duplicate member names;
//   - "alg" is on the allow-list (RFC 8725 §3.1); "crit" is honoured (RFC 7515
//     §4.1.11): no extension is understood, so any "crit" rejects;
//   - "typ" is one the configuration accepts (RFC 8725 §3.11, RFC 9068 §2.1);
//   - keys carried in the token ("jwk", "jku", "x5u", "x5c") are ignored:
//     the key always comes from the issuer's JWKS (RFC 8725 §3.10).

// maxTokenBytes caps the token before any parsing. Access tokens are a few
// kilobytes at most; HTTP servers commonly cap a header line at 8 KiB.
const maxTokenBytes = 16 << 10

// strictB64 is unpadded base64url that also rejects non-zero trailing bits,
// so every byte string has exactly one accepted encoding.
var strictB64 = base64.RawURLEncoding.Strict()

// jwsHeader is what the validator needs from a JOSE header.
type jwsHeader struct {
	alg    *algorithm
	kid    []byte // points into the decoded header
	hasKID bool
}

// parsedJWS is a compact JWS split and decoded, not yet verified.
type parsedJWS struct {
	header       jwsHeader
	signingInput string // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
	payload      string // still encoded; decoded only after the signature verifies
	// The signature is returned beside this struct, not in it: escape
	// analysis does not tell fields apart, and header.alg reaches the heap.
}

// b64Segment reports whether s may be canonical base64url text: non-empty,
// of a possible length, and without '\r' or '\n', which Go's decoder would
// skip. Every other character outside the alphabet ('=', '+', '/', spaces)
// is refused by strictB64 itself, which decodes every segment.
func b64Segment(s string) bool {
	return len(s) > 0 && len(s)%4 != 1 && strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\n') < 0
}

func decodeSegment(s string) ([]byte, error) {
	if !b64Segment(s) {
		return nil, errors.New("segment is not canonical base64url")
	}
	return strictB64.DecodeString(s)
}

// decodeSegmentInto decodes s into buf when it fits, else into new memory.
func decodeSegmentInto(s string, buf []byte) ([]byte, error) {
	if !b64Segment(s) {
		return nil, errors.New("segment is not canonical base64url")
	}
	if strictB64.DecodedLen(len(s)) > len(buf) {
		return strictB64.DecodeString(s)
	}
	// Through a stack chunk: []byte(s) would copy s to the heap. Chunks are
	// a multiple of 4 characters, so only the last one ends mid-group.
	var chunk [256]byte
	n := 0
	for len(s) > 0 {
		k := copy(chunk[:], s)
		m, err := strictB64.Decode(buf[n:], chunk[:k])
		if err != nil {
			return nil, err
		}
		n += m
		s = s[k:]
	}
	return buf[:n], nil
}

// parseJWS splits token, checks its header against the policy, and returns
// the signature, decoded into sigBuf when it fits (the caller's stack).
func (v *Validator) parseJWS(token string, sigBuf []byte) (parsedJWS, []byte, *Error) {
	return v.parseJWSOfType(token, sigBuf, "")
}

// parseJWSOfType is parseJWS for another kind of JWT than an access token:
// its "typ" must be typ (compared as Config.TokenTypes are). "" means the
// access token types of Config.TokenTypes.
func (v *Validator) parseJWSOfType(token string, sigBuf []byte, typ string) (parsedJWS, []byte, *Error) {
	var p parsedJWS
	h, rest, _ := strings.Cut(token, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	if !b64Segment(h) || !b64Segment(payload) || !b64Segment(sig) {
		return p, nil, newError(ErrInvalidToken, descMalformed, errors.New("JWS segments are not canonical base64url"))
	}
	p.signingInput = token[:len(h)+1+len(payload)]
	p.payload = payload
	rawHeader, err := decodeSegment(h)
	if err != nil {
		return p, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("header: %w", err))
	}
	signature, err := decodeSegmentInto(sig, sigBuf)
	if err != nil {
		return p, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("signature: %w", err))
	}
	if p.header, err = v.parseHeader(rawHeader, typ); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return p, nil, e
		}
		return p, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("header: %w", err))
	}
	return p, signature, nil
}

func (v *Validator) parseHeader(raw []byte, wantType string) (jwsHeader, error) {
	var h jwsHeader
	var buf [16]jsonMember
	members, err := parseObjectInto(raw, buf[:0])
	if err != nil {
		return h, err
	}
	var alg, typ []byte
	var hasAlg, hasTyp bool
	for _, m := range members {
		switch string(m.name) {
		case "alg":
			hasAlg = true
			if alg, err = jsonStringBytes(m.value); err != nil {
				return h, fmt.Errorf("alg: %w", err)
			}
		case "kid":
			h.hasKID = true
			if h.kid, err = jsonStringBytes(m.value); err != nil {
				return h, fmt.Errorf("kid: %w", err)
			}
		case "typ":
			hasTyp = true
			if typ, err = jsonStringBytes(m.value); err != nil {
				return h, fmt.Errorf("typ: %w", err)
			}
		case "crit":
			// RFC 7515 §4.1.11: a listed extension that is not understood
			// makes the JWS invalid. This package understands none ("b64",
			// RFC 7797, would change the signing input), so any crit rejects.
			exts, err := jsonStrings(m.value)
			if err != nil || len(exts) == 0 {
				return h, errors.New("crit is not a non-empty array of names")
			}
			return h, newError(ErrInvalidToken, descHeader, fmt.Errorf("crit names %q, which is not understood", truncate(exts[0])))
		case "b64", "zip", "enc", "cty":
			// b64 changes the signing input (RFC 7797); zip and enc belong
			// to JWE; cty announces a nested JWT (RFC 7519 §5.2). None of
			// them has a place in a JWS access token.
			return h, newError(ErrInvalidToken, descHeader, fmt.Errorf("header parameter %q is not accepted", string(m.name)))
		default:
			if err := v.profile.refusedHeader(m.name); err != nil {
				return h, err
			}
		}
	}
	if !hasAlg {
		return h, errors.New("no alg")
	}
	if h.alg = v.algs[string(alg)]; h.alg == nil {
		return h, newError(ErrInvalidToken, descAlgorithm, fmt.Errorf("alg %q is not on the allow-list", truncate(string(alg))))
	}
	if wantType != "" && !(hasTyp && normalizeType(string(typ)) == wantType) || wantType == "" && !v.acceptType(typ, hasTyp) {
		return h, newError(ErrInvalidToken, descType, fmt.Errorf("typ %q is not accepted", truncate(string(typ))))
	}
	return h, nil
}

// acceptType applies Config.TokenTypes. Types compare case-insensitively,
// and an "application/" prefix is optional (RFC 7515 §4.1.9).
func (v *Validator) acceptType(typ []byte, present bool) bool {
	if !present {
		return v.typeAbsentOK
	}
	const prefix = "application/"
	if len(typ) > len(prefix) && bytes.EqualFold(typ[:len(prefix)], []byte(prefix)) && bytes.IndexByte(typ[len(prefix):], '/') < 0 {
		typ = typ[len(prefix):]
	}
	for _, t := range v.types {
		if bytes.EqualFold(typ, []byte(t)) {
			return true
		}
	}
	return false
}

// normalizeType is how Config.TokenTypes entries are stored: lower case,
// without an "application/" prefix.
func normalizeType(t string) string {
	t = strings.ToLower(t)
	if rest, ok := strings.CutPrefix(t, "application/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return t
}

// truncate keeps values from the token short in log text. Header values
// are not secret (the token is, and it is never logged), but an attacker
// should not be able to fill the logs.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
