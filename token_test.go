package accesstoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// result is what a table case expects: nil err for acceptance, else the
// sentinel and the description that names the rule which fired.
type result struct {
	err  error
	desc string
}

var accepted = result{}

func checkResult(t *testing.T, c *Claims, err error, want result) {
	t.Helper()
	if want.err == nil {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		if c == nil {
			t.Fatal("accepted with nil claims")
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted; want %v (%s)", want.err, want.desc)
	}
	if !errors.Is(err, want.err) {
		t.Fatalf("error %v; want %v", err, want.err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if want.desc != "" && e.Description != want.desc {
		t.Fatalf("description %q; want %q (error: %v)", e.Description, want.desc, err)
	}
	if c != nil {
		t.Fatal("claims returned with an error")
	}
}

func TestAlgorithmsAccepted(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			c, err := v.Validate(context.Background(), mint(alg, ri.claims()))
			checkResult(t, c, err, accepted)
			if c.Subject != "alice" {
				t.Errorf("sub = %q", c.Subject)
			}
		})
	}
}

// TestHeaderRules covers the JOSE header: each case is signed with a valid
// key, so only the rule under test can reject it.
func TestHeaderRules(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	good := mustJSON(ri.claims())
	invalid := func(desc string) result { return result{ErrInvalidToken, desc} }
	tests := []struct {
		name   string
		alg    string // signing key
		header string
		want   result
	}{
		{"baseline", "RS256", `{"alg":"RS256","kid":"rsa","typ":"at+jwt"}`, accepted},
		{"no kid tries fitting keys", "ES384", `{"alg":"ES384"}`, accepted},
		{"alg none", "RS256", `{"alg":"none","kid":"rsa"}`, invalid(descAlgorithm)},
		{"alg None", "RS256", `{"alg":"None","kid":"rsa"}`, invalid(descAlgorithm)},
		{"alg HS256", "RS256", `{"alg":"HS256","kid":"rsa"}`, invalid(descAlgorithm)},
		{"alg lower case", "RS256", `{"alg":"rs256","kid":"rsa"}`, invalid(descAlgorithm)},
		{"alg missing", "RS256", `{"kid":"rsa"}`, invalid(descMalformed)},
		{"alg not a string", "RS256", `{"alg":["RS256"],"kid":"rsa"}`, invalid(descMalformed)},
		{"alg null", "RS256", `{"alg":null,"kid":"rsa"}`, invalid(descMalformed)},
		{"duplicate alg", "RS256", `{"alg":"RS256","alg":"RS256","kid":"rsa"}`, invalid(descMalformed)},
		{"duplicate alg by escape", "RS256", `{"alg":"RS256","\u0061lg":"none","kid":"rsa"}`, invalid(descMalformed)},
		{"duplicate kid", "RS256", `{"alg":"RS256","kid":"p256","kid":"rsa"}`, invalid(descMalformed)},
		{"duplicate nested", "RS256", `{"alg":"RS256","kid":"rsa","x":{"a":1,"a":2}}`, invalid(descMalformed)},
		{"header is an array", "RS256", `["alg","RS256"]`, invalid(descMalformed)},
		{"header is a string", "RS256", `"RS256"`, invalid(descMalformed)},
		{"header trailing data", "RS256", `{"alg":"RS256","kid":"rsa"}x`, invalid(descMalformed)},
		{"header two objects", "RS256", `{"alg":"RS256","kid":"rsa"}{}`, invalid(descMalformed)},
		{"header invalid UTF-8", "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"x\":\"\xff\"}", invalid(descMalformed)},
		{"header lone surrogate", "RS256", `{"alg":"RS256","kid":"rsa","x":"\ud800"}`, invalid(descMalformed)},
		{"kid not a string", "RS256", `{"alg":"RS256","kid":1}`, invalid(descMalformed)},
		{"kid unknown", "RS256", `{"alg":"RS256","kid":"nope"}`, invalid(descUnknownKey)},
		{"kid of a key of another type", "RS256", `{"alg":"RS256","kid":"p256"}`, invalid(descUnknownKey)},
		{"kid of a key on another curve", "ES256", `{"alg":"ES256","kid":"p384"}`, invalid(descUnknownKey)},
		{"alg of another key", "ES384", `{"alg":"ES256","kid":"p384"}`, invalid(descUnknownKey)},
		{"crit unknown", "RS256", `{"alg":"RS256","kid":"rsa","crit":["exp"],"exp":1}`, invalid(descHeader)},
		{"crit b64", "RS256", `{"alg":"RS256","kid":"rsa","crit":["b64"],"b64":false}`, invalid(descHeader)},
		{"crit empty", "RS256", `{"alg":"RS256","kid":"rsa","crit":[]}`, invalid(descMalformed)},
		{"crit not a list", "RS256", `{"alg":"RS256","kid":"rsa","crit":"exp"}`, invalid(descMalformed)},
		{"b64 without crit", "RS256", `{"alg":"RS256","kid":"rsa","b64":false}`, invalid(descHeader)},
		{"cty JWT (nested)", "RS256", `{"alg":"RS256","kid":"rsa","cty":"JWT"}`, invalid(descHeader)},
		{"zip", "RS256", `{"alg":"RS256","kid":"rsa","zip":"DEF"}`, invalid(descHeader)},
		{"enc", "RS256", `{"alg":"RS256","kid":"rsa","enc":"A128GCM"}`, invalid(descHeader)},
		{"typ absent", "RS256", `{"alg":"RS256","kid":"rsa"}`, accepted},
		{"typ JWT", "RS256", `{"alg":"RS256","kid":"rsa","typ":"JWT"}`, accepted},
		{"typ AT+JWT", "RS256", `{"alg":"RS256","kid":"rsa","typ":"AT+JWT"}`, accepted},
		{"typ application/at+jwt", "RS256", `{"alg":"RS256","kid":"rsa","typ":"application/at+jwt"}`, accepted},
		{"typ dpop+jwt", "RS256", `{"alg":"RS256","kid":"rsa","typ":"dpop+jwt"}`, invalid(descType)},
		{"typ logout+jwt", "RS256", `{"alg":"RS256","kid":"rsa","typ":"logout+jwt"}`, invalid(descType)},
		{"typ id_token-ish", "RS256", `{"alg":"RS256","kid":"rsa","typ":"secevent+jwt"}`, invalid(descType)},
		{"typ empty string", "RS256", `{"alg":"RS256","kid":"rsa","typ":""}`, invalid(descType)},
		{"typ not a string", "RS256", `{"alg":"RS256","kid":"rsa","typ":1}`, invalid(descMalformed)},
		{"x5c junk is ignored", "RS256", `{"alg":"RS256","kid":"rsa","x5c":["AAAA"],"x5t":"abc"}`, accepted},
		{"unknown header member ignored", "ES256", `{"alg":"ES256","kid":"p256","foo":{"bar":[1,2]}}`, accepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), signRaw(tt.alg, []byte(tt.header), good))
			checkResult(t, c, err, tt.want)
		})
	}
}

func TestTokenTypesConfig(t *testing.T) {
	ri := newRawIssuer(t)
	strict := ri.validator(t, func(c *Config) { c.TokenTypes = []string{"at+jwt"} })
	good := mustJSON(ri.claims())
	tests := []struct {
		header string
		want   result
	}{
		{`{"alg":"RS256","kid":"rsa","typ":"at+jwt"}`, accepted},
		{`{"alg":"RS256","kid":"rsa","typ":"application/AT+JWT"}`, accepted},
		{`{"alg":"RS256","kid":"rsa"}`, result{ErrInvalidToken, descType}},
		{`{"alg":"RS256","kid":"rsa","typ":"JWT"}`, result{ErrInvalidToken, descType}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			c, err := strict.Validate(context.Background(), signRaw("RS256", []byte(tt.header), good))
			checkResult(t, c, err, tt.want)
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, func(c *Config) { c.Algorithms = []string{"ES256"} })
	c, err := v.Validate(context.Background(), mint("RS256", ri.claims()))
	checkResult(t, c, err, result{ErrInvalidToken, descAlgorithm})
	c, err = v.Validate(context.Background(), mint("ES256", ri.claims()))
	checkResult(t, c, err, accepted)

	for _, bad := range [][]string{{"none"}, {"HS256"}, {"RS256", "HS512"}, {"rs256"}, {}} {
		if _, err := NewValidator(context.Background(), Config{Issuer: ri.srv.URL, Audience: []string{"api"}, Algorithms: bad}); err == nil {
			t.Errorf("Algorithms %q accepted by NewValidator", bad)
		}
	}
}

// TestEncodingRules covers the compact serialization itself.
func TestEncodingRules(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	good := mint("RS256", ri.claims())
	h, rest, _ := strings.Cut(good, ".")
	p, s, _ := strings.Cut(rest, ".")
	malformed := result{ErrInvalidToken, descMalformed}

	// The RS256 signature is 256 bytes: 342 characters carrying 4 unused
	// bits. Setting one of them gives a second spelling of the same bytes.
	last := strings.IndexByte(b64Alphabet, s[len(s)-1])
	nonCanonical := s[:len(s)-1] + string(b64Alphabet[last|1])
	if nonCanonical == s {
		nonCanonical = s[:len(s)-1] + string(b64Alphabet[last|2])
	}

	tests := []struct {
		name  string
		token string
		want  result
	}{
		{"baseline", good, accepted},
		{"padding", h + "." + p + "." + s + "==", malformed},
		{"padded header", h + "=." + p + "." + s, malformed},
		{"standard alphabet", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s), malformed},
		{"newline in payload", h + "." + p[:10] + "\n" + p[10:] + "." + s, malformed},
		{"CR in signature", h + "." + p + "." + s[:10] + "\r" + s[10:], malformed},
		{"space in header", h[:5] + " " + h[5:] + "." + p + "." + s, malformed},
		{"non-canonical trailing bits", h + "." + p + "." + nonCanonical, malformed},
		{"empty signature", h + "." + p + ".", malformed},
		{"empty payload", h + ".." + s, malformed},
		{"empty header", "." + p + "." + s, malformed},
		{"impossible length", h + "." + p + "." + s + strings.Repeat("A", (5-len(s)%4)%4), malformed},
		{"two segments", h + "." + p, result{ErrInvalidToken, descOpaque}},
		{"four segments", good + "." + s, result{ErrInvalidToken, descOpaque}},
		{"five segments (JWE)", h + "." + p + "." + s + ".a.b", result{ErrInvalidToken, descEncrypted}},
		{"empty", "", result{ErrNoToken, ""}},
		{"too large", h + "." + strings.Repeat("A", maxTokenBytes) + "." + s, result{ErrInvalidToken, descTooLarge}},
		{"tampered payload", h + "." + b64(mustJSON(map[string]any{"iss": ri.srv.URL, "aud": "api", "exp": 4102444800, "sub": "root"})) + "." + s, result{ErrInvalidToken, descSignature}},
		{"signature of another token", h + "." + p + "." + strings.Split(mint("RS256", map[string]any{"sub": "other"}), ".")[2], result{ErrInvalidToken, descSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), tt.token)
			checkResult(t, c, err, tt.want)
		})
	}
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestSignatureAttacks covers the JOSE attacks that a verifier has fallen
// for in the past.
func TestSignatureAttacks(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	k := sharedTestKeys()
	claims := mustJSON(ri.claims())
	encode := func(header string) string { return b64([]byte(header)) + "." + b64(claims) }

	// HMAC keyed with the issuer's public key, in the encodings a confused
	// verifier might use as the secret (CVE-2015-9235 and kin).
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hmacToken := func(secret []byte) string {
		in := encode(`{"alg":"HS256","kid":"rsa"}`)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}

	// An attacker's own key, carried in the header (CVE-2018-0114).
	attacker := newRawIssuerKeys(t)
	embedded := func(header string) string {
		in := encode(header)
		return in + "." + b64(attacker.sign([]byte(in)))
	}
	var jkuHits atomic.Int32
	jku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jkuHits.Add(1)
		w.Write(mustJSON(map[string]any{"keys": []any{attacker.jwk}}))
	}))
	defer jku.Close()

	// ECDSA "psychic signature" r = s = 0 (CVE-2022-21449), and a DER
	// signature where JWS wants r||s.
	zeroSig := encode(`{"alg":"ES256","kid":"p256"}`) + "." + b64(make([]byte, 64))
	es := mint("ES256", ri.claims())
	esParts := strings.Split(es, ".")
	rawSig, _ := strictB64.DecodeString(esParts[2])
	derSig := esParts[0] + "." + esParts[1] + "." + b64(derECDSA(rawSig))

	jwkHeader := `{"alg":"RS256","jwk":` + string(mustJSON(attacker.jwk)) + `}`
	tests := []struct {
		name  string
		token string
		want  result
	}{
		{"alg none, empty signature", encode(`{"alg":"none"}`) + ".", result{ErrInvalidToken, descMalformed}},
		{"alg none, some signature", encode(`{"alg":"none"}`) + ".AAAA", result{ErrInvalidToken, descAlgorithm}},
		{"HS256 keyed with PEM public key", hmacToken(pemKey), result{ErrInvalidToken, descAlgorithm}},
		{"HS256 keyed with DER public key", hmacToken(der), result{ErrInvalidToken, descAlgorithm}},
		{"HS256 keyed with modulus", hmacToken(k.rsa.N.Bytes()), result{ErrInvalidToken, descAlgorithm}},
		{"embedded jwk", embedded(jwkHeader), result{ErrInvalidToken, descSignature}},
		{"embedded jwk with its kid", embedded(`{"alg":"RS256","kid":"attacker","jwk":` + string(mustJSON(attacker.jwk)) + `}`), result{ErrInvalidToken, descUnknownKey}},
		{"jku to attacker JWKS", embedded(`{"alg":"RS256","kid":"attacker","jku":"` + jku.URL + `"}`), result{ErrInvalidToken, descUnknownKey}},
		{"x5u to attacker", embedded(`{"alg":"RS256","x5u":"` + jku.URL + `/cert.pem"}`), result{ErrInvalidToken, descSignature}},
		{"psychic signature", zeroSig, result{ErrInvalidToken, descSignature}},
		{"ECDSA signature in DER", derSig, result{ErrInvalidToken, descSignature}},
		{"signature truncated", esParts[0] + "." + esParts[1] + "." + b64(rawSig[:60]), result{ErrInvalidToken, descSignature}},
		{"signature extended", esParts[0] + "." + esParts[1] + "." + b64(append(rawSig, 0)), result{ErrInvalidToken, descSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), tt.token)
			checkResult(t, c, err, tt.want)
		})
	}
	if n := jkuHits.Load(); n != 0 {
		t.Errorf("a URL from the token header was fetched %d times", n)
	}
}

// TestPSSSaltLength: RFC 7518 §3.5 fixes the salt length to the hash size;
// a maximal salt (what "auto" accepts) is rejected.
func TestPSSSaltLength(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	in := b64([]byte(`{"alg":"PS256","kid":"rsa"}`)) + "." + b64(mustJSON(ri.claims()))
	sig := signPSSMaxSalt(t, []byte(in))
	c, err := v.Validate(context.Background(), in+"."+b64(sig))
	checkResult(t, c, err, result{ErrInvalidToken, descSignature})
}

// TestClaimRules covers the payload; every token is signed correctly.
func TestClaimRules(t *testing.T) {
	ri := newRawIssuer(t)
	now := time.Now()
	v := ri.validator(t, func(c *Config) { c.Leeway = time.Minute })
	iss := ri.srv.URL
	exp := now.Add(time.Hour).Unix()
	invalid := func(desc string) result { return result{ErrInvalidToken, desc} }
	expired := result{ErrTokenExpired, descExpired}
	tests := []struct {
		name    string
		payload string
		want    result
	}{
		{"baseline", fmtJSON(`{"iss":%q,"aud":"api","exp":%d}`, iss, exp), accepted},
		{"aud array", fmtJSON(`{"iss":%q,"aud":["other","api"],"exp":%d}`, iss, exp), accepted},
		{"aud other", fmtJSON(`{"iss":%q,"aud":"other","exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud array other", fmtJSON(`{"iss":%q,"aud":["other"],"exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud empty array", fmtJSON(`{"iss":%q,"aud":[],"exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud missing", fmtJSON(`{"iss":%q,"exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud prefix", fmtJSON(`{"iss":%q,"aud":"apiX","exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud case", fmtJSON(`{"iss":%q,"aud":"API","exp":%d}`, iss, exp), invalid(descAudience)},
		{"aud number", fmtJSON(`{"iss":%q,"aud":1,"exp":%d}`, iss, exp), invalid(descMalformed)},
		{"aud array with number", fmtJSON(`{"iss":%q,"aud":["api",1],"exp":%d}`, iss, exp), invalid(descMalformed)},
		{"aud null", fmtJSON(`{"iss":%q,"aud":null,"exp":%d}`, iss, exp), invalid(descMalformed)},
		{"iss other", fmtJSON(`{"iss":"https://evil.example","aud":"api","exp":%d}`, exp), invalid(descIssuer)},
		{"iss trailing slash", fmtJSON(`{"iss":%q,"aud":"api","exp":%d}`, iss+"/", exp), invalid(descIssuer)},
		{"iss missing", fmtJSON(`{"aud":"api","exp":%d}`, exp), invalid(descIssuer)},
		{"iss not a string", fmtJSON(`{"iss":[%q],"aud":"api","exp":%d}`, iss, exp), invalid(descMalformed)},
		{"duplicate iss", fmtJSON(`{"iss":%q,"iss":"https://evil.example","aud":"api","exp":%d}`, iss, exp), invalid(descMalformed)},
		{"duplicate aud by escape", fmtJSON(`{"iss":%q,"aud":"api","\u0061ud":"x","exp":%d}`, iss, exp), invalid(descMalformed)},
		{"ISS is not iss", fmtJSON(`{"iss":%q,"ISS":"https://evil.example","aud":"api","exp":%d}`, iss, exp), accepted},
		{"Iss alone is not iss", fmtJSON(`{"Iss":%q,"aud":"api","exp":%d}`, iss, exp), invalid(descIssuer)},
		{"exp missing", fmtJSON(`{"iss":%q,"aud":"api"}`, iss), invalid(descMalformed)},
		{"exp past", fmtJSON(`{"iss":%q,"aud":"api","exp":%d}`, iss, now.Add(-2*time.Minute).Unix()), expired},
		{"exp within leeway", fmtJSON(`{"iss":%q,"aud":"api","exp":%d}`, iss, now.Add(-30*time.Second).Unix()), accepted},
		{"exp fractional", fmtJSON(`{"iss":%q,"aud":"api","exp":%d.5}`, iss, exp), accepted},
		{"exp exponent", fmtJSON(`{"iss":%q,"aud":"api","exp":4.1e9}`, iss), accepted},
		{"exp string", fmtJSON(`{"iss":%q,"aud":"api","exp":"%d"}`, iss, exp), invalid(descMalformed)},
		{"exp null", fmtJSON(`{"iss":%q,"aud":"api","exp":null}`, iss), invalid(descMalformed)},
		{"exp true", fmtJSON(`{"iss":%q,"aud":"api","exp":true}`, iss), invalid(descMalformed)},
		{"exp overflow", fmtJSON(`{"iss":%q,"aud":"api","exp":1e400}`, iss), invalid(descMalformed)},
		{"exp past year 9999", fmtJSON(`{"iss":%q,"aud":"api","exp":253402300800}`, iss), invalid(descMalformed)},
		{"exp wraps int64", fmtJSON(`{"iss":%q,"aud":"api","exp":18446744073709551616}`, iss), invalid(descMalformed)},
		{"exp negative", fmtJSON(`{"iss":%q,"aud":"api","exp":-1}`, iss), invalid(descMalformed)},
		{"exp bad number", fmtJSON(`{"iss":%q,"aud":"api","exp":01}`, iss), invalid(descMalformed)},
		{"nbf future", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"nbf":%d}`, iss, exp, now.Add(2*time.Minute).Unix()), invalid(descNotYetValid)},
		{"nbf within leeway", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"nbf":%d}`, iss, exp, now.Add(30*time.Second).Unix()), accepted},
		{"nbf string", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"nbf":"0"}`, iss, exp), invalid(descMalformed)},
		{"iat future", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"iat":%d}`, iss, exp, now.Add(2*time.Minute).Unix()), invalid(descIssuedInFuture)},
		{"iat within leeway", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"iat":%d}`, iss, exp, now.Add(30*time.Second).Unix()), accepted},
		{"cnf bound token", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"cnf":{"jkt":"abc"}}`, iss, exp), invalid(descBound)},
		{"scope not a string", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"scope":["a"]}`, iss, exp), invalid(descMalformed)},
		{"scp array", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"scp":["a","b"]}`, iss, exp), accepted},
		{"scp number", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"scp":7}`, iss, exp), invalid(descMalformed)},
		{"sub number", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"sub":7}`, iss, exp), invalid(descMalformed)},
		{"payload array", `["iss"]`, invalid(descMalformed)},
		{"payload invalid UTF-8", fmtJSON("{\"iss\":%q,\"aud\":\"api\",\"exp\":%d,\"name\":\"\xc3\x28\"}", iss, exp), invalid(descMalformed)},
		{"payload lone low surrogate", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"name":"\udc00"}`, iss, exp), invalid(descMalformed)},
		{"payload deep nesting", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"x":%s1%s}`, iss, exp, strings.Repeat("[", 100), strings.Repeat("]", 100)), invalid(descMalformed)},
		{"payload deep objects", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"x":%s1%s}`, iss, exp, strings.Repeat(`{"a":`, 100), strings.Repeat("}", 100)), invalid(descMalformed)},
		{"payload two low surrogates", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"name":"\udc00\udc00"}`, iss, exp), invalid(descMalformed)},
		{"payload high surrogate pair", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,"name":"\ud83d\ude00"}`, iss, exp), accepted},
		{"duplicate in a large object", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,%s"a0":1}`, iss, exp, manyMembers(20)), invalid(descMalformed)},
		{"large object", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,%s"z":1}`, iss, exp, manyMembers(20)), accepted},
		{"payload trailing comma", fmtJSON(`{"iss":%q,"aud":"api","exp":%d,}`, iss, exp), invalid(descMalformed)},
		{"payload with BOM", "\ufeff" + fmtJSON(`{"iss":%q,"aud":"api","exp":%d}`, iss, exp), invalid(descMalformed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256"}`), []byte(tt.payload))
			c, err := v.Validate(context.Background(), tok)
			checkResult(t, c, err, tt.want)
		})
	}
}

// TestClaimsMapping checks what an accepted token's claims look like.
func TestClaimsMapping(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	payload := fmtJSON(`{"iss":%q,"ISS":"evil","aud":["x","api"],"sub":"alice","client_id":"app","jti":"id-1",`+
		`"exp":4102444800,"iat":1700000000,"nbf":1700000000.25,"scope":"read  write","scp":["ignored"],"tenant":"t1"}`, ri.srv.URL)
	c, err := v.Validate(context.Background(), signRaw("EdDSA", []byte(`{"alg":"EdDSA","kid":"ed"}`), []byte(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != ri.srv.URL || c.Subject != "alice" || c.ClientID != "app" || c.ID != "id-1" || c.Introspected {
		t.Errorf("claims = %+v", c)
	}
	if strings.Join(c.Audience, ",") != "x,api" || strings.Join(c.Scopes, ",") != "read,write" {
		t.Errorf("aud %q scopes %q", c.Audience, c.Scopes)
	}
	if !c.ExpiresAt.Equal(time.Unix(4102444800, 0)) || !c.IssuedAt.Equal(time.Unix(1700000000, 0)) || !c.NotBefore.Equal(time.Unix(1700000000, 250e6)) {
		t.Errorf("times %v %v %v", c.ExpiresAt, c.IssuedAt, c.NotBefore)
	}
	var extra struct {
		Tenant string `json:"tenant"`
	}
	if err := c.Decode(&extra); err != nil || extra.Tenant != "t1" {
		t.Errorf("Decode: %v %+v", err, extra)
	}
	if !c.HasScope("write") || c.HasScope("admin") {
		t.Error("HasScope")
	}
}

func fmtJSON(format string, args ...any) string { return sprintf(format, args...) }

// manyMembers returns `"a0":0,"a1":1,...,` for n members.
func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `"a%d":%d,`, i, i)
	}
	return b.String()
}
