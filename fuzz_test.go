package accesstoken

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// FuzzValidate feeds arbitrary token text to a validator with real keys.
// Nothing may panic, every rejection must be a well-formed *Error, and the
// only tokens ever accepted are the seeds signed by the issuer: an accepted
// variant would be a second spelling of a signed token, a parser
// differential.
func FuzzValidate(f *testing.F) {
	ri := newRawIssuer(f)
	v := ri.validator(f, func(c *Config) { c.MinRefreshInterval = 1 << 62 })
	claims := ri.claims()
	claims["exp"] = 4102444800
	valid := map[string]bool{}
	for _, alg := range []string{"RS256", "PS384", "ES256", "ES512", "EdDSA"} {
		tok := mint(alg, claims)
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256","crit":["b64"]}`), mustJSON(claims)))
	f.Add(signRaw("ES256", []byte(`{"alg":"ES256","\u0061lg":"none"}`), mustJSON(claims)))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("....")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Validate(context.Background(), token)
		if err == nil {
			if !valid[token] {
				t.Fatalf("accepted a token the issuer never signed: %q", token)
			}
			if c == nil {
				t.Fatal("nil claims without error")
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not *Error", err)
		}
		switch e.StatusCode() {
		case http.StatusUnauthorized, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d for a token", e.StatusCode())
		}
		if e.Challenge("api") != "" {
			checkChallenge(t, e.Challenge("api"))
		}
	})
}

// FuzzParseObject checks the strict JSON reader against encoding/json:
// whatever it accepts, encoding/json accepts too, with the same string
// values, and it never accepts invalid UTF-8.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{"a":"b","c":[1,2.5e3,{"d":null}],"e":true}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`,
		`{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":01}`, `{} `, ` {"a":[]} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		members, err := parseObject(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted what encoding/json rejects: %q", data)
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted invalid UTF-8: %q", data)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // numbers too large for float64 are still JSON
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("encoding/json cannot decode %q: %v", data, err)
		}
		if len(m) != len(members) {
			t.Fatalf("%d members, encoding/json sees %d: %q", len(members), len(m), data)
		}
		for _, mem := range members {
			if s, err := jsonString(mem.value); err == nil && m[string(mem.name)] != s {
				t.Fatalf("member %q: %q, encoding/json %q", mem.name, s, m[string(mem.name)])
			}
		}
	})
}

// FuzzParseJWKS: hostile JWKS documents never panic and never yield a key
// that is private, symmetric or weak.
func FuzzParseJWKS(f *testing.F) {
	f.Add(defaultJWKS())
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	algs, _ := allowList(nil, false)
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, _, _, err := parseJWKS(doc, algs)
		if err != nil {
			return
		}
		for _, k := range set.keys {
			fits := false
			for _, a := range algs {
				fits = fits || a.fits(k)
			}
			if !fits {
				t.Fatalf("key %T fits no algorithm", k.public)
			}
		}
	})
}

// FuzzIntrospectionAnswer: no endpoint answer panics the judge, and only an
// object whose "active" is the literal true, with a fitting "aud", is ever
// accepted.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"aud":"api"}`, `{"active":false}`, `{"active":"true","aud":"api"}`,
		`{"active":true,"aud":["api"],"exp":4102444800,"scope":"a b","cnf":{}}`, `{"active":true,"active":true}`,
		`{"active":true,"aud":"api","token_type":"refresh_token"}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	ri := newRawIssuer(f)
	v := ri.validator(f, func(c *Config) {
		c.Introspection = &IntrospectionConfig{Endpoint: ri.srv.URL + "/introspect", ClientID: "rs", ClientSecret: "s"}
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, e := v.intro.judge(raw, v)
		if e != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			if k := e.StatusCode(); k != http.StatusUnauthorized && k != http.StatusServiceUnavailable {
				t.Fatalf("status %d", k)
			}
			return
		}
		members, err := parseObject(raw)
		if err != nil {
			t.Fatalf("accepted an answer that is not a strict JSON object: %q", raw)
		}
		active := false
		for _, m := range members {
			if string(m.name) == "active" {
				active = string(m.value) == "true"
			}
		}
		if !active || !c.Introspected || !v.audienceMatches(c.Audience) {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}

// FuzzMultiIssuer feeds arbitrary token text to a MultiIssuer over static
// keys: an HMAC issuer and an Ed25519 one, plus Resolve, which trusts
// nothing. The routing parse reads attacker text before any signature
// check; only the seeds the issuers signed may ever be accepted.
func FuzzMultiIssuer(f *testing.F) {
	k := sharedTestKeys()
	secret := bytes.Repeat([]byte{7}, 32)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{
		Issuers: []Config{
			{Issuer: "hmac-issuer", Audience: []string{"api"}, Algorithms: []string{"HS256"}, Keys: map[string]any{"": secret}},
			{Issuer: "ed-issuer", Audience: []string{"api"}, Keys: map[string]any{"ed": k.ed.Public()}},
		},
		Resolve: func(context.Context, string) (*Config, error) { return nil, nil },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close() })
	valid := map[string]bool{}
	hs := hmacSign(sha256.New, secret, `{"alg":"HS256","typ":"at+jwt"}`, map[string]any{"iss": "hmac-issuer", "aud": "api", "exp": 4102444800})
	in := b64([]byte(`{"alg":"Ed25519","kid":"ed"}`)) + "." + b64(mustJSON(map[string]any{"iss": "ed-issuer", "aud": "api", "exp": 4102444800}))
	ed := in + "." + b64(ed25519.Sign(k.ed, []byte(in)))
	for _, tok := range []string{hs, ed} {
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(hmacSign(sha256.New, secret, `{"alg":"HS256"}`, map[string]any{"iss": "ed-issuer", "aud": "api", "exp": 4102444800}))
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"iss":"hmac-issuer","iss":"ed-issuer"}`)) + ".")
	f.Add("x.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjEifQ.y")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := m.Validate(context.Background(), token)
		if err == nil {
			if !valid[token] || c == nil {
				t.Fatalf("accepted a token no issuer signed: %q", token)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not *Error", err)
		}
		if s := e.StatusCode(); s != http.StatusUnauthorized {
			t.Fatalf("status %d for a token: %v", s, err)
		}
	})
}

// FuzzDPoPProof feeds arbitrary DPoP header text to ValidateRequest with a
// valid bound token. Nothing may panic; a rejection is ErrInvalidDPoPProof
// or ErrInvalidToken; and only the seed proof, once, may be accepted (each
// proof's jti is remembered, so even the seed passes only the first time).
func FuzzDPoPProof(f *testing.F) {
	as := accesstokentest.NewServer()
	f.Cleanup(as.Close)
	v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, DPoP: &DPoPConfig{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	key := accesstokentest.NewDPoPKey("ES256")
	tok := as.Token(nil, accesstokentest.WithDPoPKey(key), accesstokentest.WithExpiry(24*time.Hour))
	valid := key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok), accesstokentest.WithIssuedAt(time.Now().Add(time.Hour)))
	f.Add(valid) // iat in the future: refused, but every other part is right
	f.Add(key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok)))
	f.Add(key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok), accesstokentest.WithProofHeader("alg", "none")))
	f.Add(key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok), accesstokentest.WithProofHeader("jwk", map[string]any{"kty": "oct", "k": "AAAA"})))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.")
	f.Add("a.b.c,a.b.c")
	accepted := 0
	f.Fuzz(func(t *testing.T, proof string) {
		r := &Request{Scheme: "DPoP", Token: tok, DPoPProof: proof, Method: "GET", URL: apiURL}
		c, err := v.ValidateRequest(context.Background(), r)
		if err == nil {
			accepted++
			if c == nil || accepted > 1 {
				t.Fatalf("accepted proof %q (acceptance %d)", proof, accepted)
			}
			return
		}
		if !errors.Is(err, ErrInvalidDPoPProof) && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("proof %q: %v", proof, err)
		}
	})
}

// FuzzSharedIntrospection: whatever another replica (or anyone with access
// to the store) left under a token's key, validation neither panics nor
// hangs, and accepts the token only when the value is a well-formed shared
// answer that the judge accepts: the endpoint here always fails.
func FuzzSharedIntrospection(f *testing.F) {
	for _, s := range []string{
		"\x01A{\"active\":true,\"aud\":\"api\"}", "\x01A{\"active\":false}", "\x01F", "\x01L", "\x01A", "\x02A{}", "", "{",
		"\x01A{\"active\":true,\"aud\":\"other\"}", "\x01A[]",
	} {
		f.Add([]byte(s))
	}
	ri := newRawIssuer(f)
	store := NewMemoryStore()
	v := ri.validator(f, func(c *Config) {
		c.Audience = []string{"api"}
		c.FetchTimeout = 50 * time.Millisecond
		c.Introspection = &IntrospectionConfig{Endpoint: ri.srv.URL + "/no-introspection-here", ClientID: "rs", ClientSecret: "s", Store: store}
	})
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, value []byte) {
		token := fmt.Sprintf("opaque-token-%d", n.Add(1))
		key := sharedAnswerPrefix + storeKey("", v.issuer, "rs", token)
		store.Set(context.Background(), key, value, time.Now().Add(time.Minute))
		v.intro.shared.skipTo.Store(0)
		c, err := v.Validate(context.Background(), token)
		wellFormed := len(value) > 2 && value[0] == sharedFormat && value[1] == 'A'
		if err == nil {
			if !wellFormed {
				t.Fatalf("accepted with %q in the store", value)
			}
			if want, e := v.intro.judge(value[2:], v); e != nil || want.Subject != c.Subject {
				t.Fatalf("accepted %q, which the judge refuses: %v", value, e)
			}
		}
	})
}

// FuzzProfileClaims signs arbitrary payloads (EdDSA, so that each input is
// cheap) and validates them under a Profile that reads the audience from
// "client_id", pins "tid" and reads the client from "azp" or "appid". A
// token is accepted only when encoding/json, reading the same payload,
// agrees with every rule; the header rule refuses a "nonce" whatever the
// payload.
func FuzzProfileClaims(f *testing.F) {
	ri := newRawIssuer(f)
	v := ri.validator(f, func(c *Config) {
		c.MinRefreshInterval = 1 << 62
		c.VerifiedCacheSize = -1
		c.Profile = &Profile{
			AudienceClaim:  "/client_id",
			RequiredClaims: map[string]string{"/tid": "t1"},
			ClientIDClaims: []string{"/azp", "/appid"},
			RefusedHeaders: map[string]string{"nonce": "a Graph token"},
		}
	})
	iss := ri.srv.URL
	for _, p := range []string{
		`{"iss":"` + iss + `","exp":4102444800,"client_id":"api","tid":"t1","azp":"web"}`,
		`{"iss":"` + iss + `","exp":4102444800,"client_id":["x","api"],"tid":"t1","appid":"old"}`,
		`{"iss":"` + iss + `","exp":4102444800,"client_id":"api","tid":"t2"}`,
		`{"iss":"` + iss + `","exp":4102444800,"client_id":"api","\u0074id":"t1"}`,
		`{"iss":"` + iss + `","exp":4102444800,"client_id":"api","tid":"t1","tid":"t2"}`,
	} {
		f.Add([]byte(p), false)
		f.Add([]byte(p), true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, nonce bool) {
		header := `{"alg":"EdDSA","kid":"` + kidFor("EdDSA") + `"}`
		if nonce {
			header = `{"alg":"EdDSA","kid":"` + kidFor("EdDSA") + `","nonce":"n"}`
		}
		c, err := v.Validate(context.Background(), signRaw("EdDSA", []byte(header), payload))
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("a signed token refused as %v", err)
			}
			return
		}
		if nonce {
			t.Fatal("accepted a token whose header has nonce")
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted a payload encoding/json rejects: %v", err)
		}
		if m["tid"] != "t1" {
			t.Fatalf("accepted tid %v", m["tid"])
		}
		switch aud := m["client_id"].(type) {
		case string:
			if aud != "api" {
				t.Fatalf("accepted client_id %q", aud)
			}
		case []any:
			found := false
			for _, a := range aud {
				found = found || a == "api"
			}
			if !found {
				t.Fatalf("accepted client_id %v", aud)
			}
		default:
			t.Fatalf("accepted client_id %v", aud)
		}
		want := ""
		for _, name := range []string{"azp", "appid"} {
			if s, ok := m[name].(string); ok && s != "" {
				want = s
				break
			}
		}
		if c.ClientID != want {
			t.Fatalf("ClientID %q, encoding/json reads %q", c.ClientID, want)
		}
	})
}

// FuzzJWE feeds mutated five-part tokens to a validator holding RSA, EC and
// symmetric decryption keys: no panic, no hang, and nothing accepted but
// the tokens the issuer really made (the seeds).
func FuzzJWE(f *testing.F) {
	as := accesstokentest.NewServer()
	f.Cleanup(as.Close)
	k := sharedTestKeys()
	secret := bytes.Repeat([]byte{7}, 32)
	v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		VerifiedCacheSize: -1, Decryption: &DecryptionConfig{Keys: map[string]any{"rsa": k.rsa, "ec": k.p256, "sym": secret}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	valid := map[string]bool{}
	for _, e := range []accesstokentest.TokenOption{
		accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &k.rsa.PublicKey, "rsa", nil),
		accesstokentest.WithEncryption("ECDH-ES+A256KW", "A128CBC-HS256", &k.p256.PublicKey, "ec", nil),
		accesstokentest.WithEncryption("dir", "A256GCM", secret, "sym", map[string]any{"iss": as.Issuer()}),
	} {
		tok := as.Token(map[string]any{"sub": "alice", "exp": 4102444800}, e)
		valid[tok] = true
		f.Add(tok)
	}
	f.Add("a.b.c.d.e")
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiemlwIjoiREVGIn0....")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Validate(context.Background(), token)
		if err == nil && (!valid[token] || c == nil) {
			t.Fatalf("accepted a token the issuer never made: %q", token)
		}
		if err != nil {
			if e := AsError(err); e.StatusCode() != http.StatusUnauthorized && e.StatusCode() != http.StatusServiceUnavailable {
				t.Fatalf("status %d", e.StatusCode())
			}
		}
	})
}
