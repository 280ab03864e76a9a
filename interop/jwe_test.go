package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokenguard/accesstoken"
)

// testJWE: oidc-provider issues encrypted access tokens (RSA-OAEP-256 with
// A256GCM, ECDH-ES+A256KW with A128CBC-HS256; cty at+jwt, iss and aud
// replicated in the JWE header), and the validator, holding the resource
// server's keys, accepts them, alone and behind a MultiIssuer.
func (s *server) testJWE(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/__test/rs-keys", nil)
	req.Header.Set("X-Admin-Secret", s.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || len(set.Keys) != 2 {
		t.Fatalf("resource server keys: %v (%d keys)", err, len(set.Keys))
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		keys[k.KeyID] = k.Key
	}
	dec := &accesstoken.DecryptionConfig{Keys: keys}
	v := s.validator(t, func(c *accesstoken.Config) {
		c.Audience = []string{api + "/jwe-rsa", api + "/jwe-ec"}
		c.Decryption = dec
		c.Introspection = nil
	})
	m, err := accesstoken.NewMultiIssuer(context.Background(), accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{
		{Issuer: s.issuer, Audience: []string{api + "/jwe-rsa", api + "/jwe-ec"}, Decryption: dec, StrictStart: true},
		{Issuer: "https://elsewhere.example", Audience: []string{"x"}, Keys: map[string]any{"": []byte(strings.Repeat("k", 32))}, Algorithms: []string{"HS256"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, rs := range []string{"jwe-rsa", "jwe-ec"} {
		tok := s.token(t, api+"/"+rs, "orders:read")
		if strings.Count(tok, ".") != 4 {
			t.Fatalf("%s: the server did not encrypt: %.40q", rs, tok)
		}
		for name, tv := range map[string]accesstoken.TokenValidator{"validator": v, "multi-issuer": m} {
			c, err := tv.Validate(context.Background(), tok)
			if err != nil {
				t.Fatalf("%s, %s: %v (%v)", rs, name, err, accesstoken.AsError(err).Err)
			}
			if c.ClientID != "api-client" || strings.Join(c.Audience, " ") != api+"/"+rs || c.Issuer != s.issuer {
				t.Errorf("%s, %s: claims %+v", rs, name, c)
			}
		}
		// Without the keys, the same token is refused, not accepted.
		plain := s.validator(t, func(c *accesstoken.Config) { c.Audience = []string{api + "/" + rs}; c.Introspection = nil })
		if _, err := plain.Validate(context.Background(), tok); err == nil {
			t.Fatalf("%s accepted without Decryption", rs)
		}
	}
}
