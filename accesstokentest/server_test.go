package accesstokentest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

func TestMetadata(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := http.Get(as.Issuer() + path)
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || meta["issuer"] != as.Issuer() || meta["jwks_uri"] != as.JWKSURL() {
			t.Errorf("%s: %v %v", path, err, meta)
		}
	}
	if !strings.HasPrefix(as.Issuer(), "http://127.0.0.1:") {
		t.Errorf("issuer %q is not on loopback", as.Issuer())
	}
}

// TestTokenOptions mints with every option and has the validator judge.
func TestTokenOptions(t *testing.T) {
	as := accesstokentest.NewServer(accesstokentest.WithAudience("urn:api"))
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{"urn:api"}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		tok := as.Token(nil, accesstokentest.WithAlgorithm(alg))
		if h := header(t, tok); h["alg"] != alg || h["typ"] != "at+jwt" {
			t.Errorf("header %v", h)
		}
		if _, err := v.Validate(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	if h := header(t, as.Token(nil, accesstokentest.WithType(""), accesstokentest.WithKeyID("k"))); h["typ"] != nil || h["kid"] != "k" {
		t.Errorf("header %v", h)
	}
	tok := as.Token(map[string]any{"sub": nil, "custom": 1})
	c, err := v.Validate(context.Background(), tok)
	if err != nil || c.Subject != "" || c.ClientID != "test-client" || c.ID == "" {
		t.Errorf("claims %+v, %v", c, err)
	}
}

func TestRotateKeys(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	old := as.Token(nil)
	as.RotateKeys()
	fresh := as.Token(nil)
	if header(t, old)["kid"] == header(t, fresh)["kid"] {
		t.Fatal("kid unchanged by rotation")
	}
	if _, err := v.Validate(context.Background(), fresh); err != nil {
		t.Fatalf("token with the new key: %v", err)
	}
	if _, err := v.Validate(context.Background(), old); err == nil {
		t.Fatal("token with the retired key accepted after refresh")
	}
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func ExampleServer_Token() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
	})
	defer v.Close()

	token := as.Token(map[string]any{"sub": "svc-42", "scope": "read"}, accesstokentest.WithAlgorithm("ES256"))
	claims, err := v.Validate(context.Background(), token)
	fmt.Println(claims.Subject, claims.Scopes, err)
	// Output: svc-42 [read] <nil>
}
