package accesstokentest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"} {
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

// TestSigningKey mints service-to-service tokens with the caller's own keys,
// checked by a validator with static keys.
func TestSigningKey(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: "orders-service", Audience: []string{as.Audience()},
		Algorithms: []string{"HS256", "RS256", "Ed25519"},
		Keys:       map[string]any{"": secret, "rsa": &rsaKey.PublicKey, "ed": edKey.Public()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	iss := map[string]any{"iss": "orders-service"}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"HS256, no kid", as.Token(iss, accesstokentest.WithSigningKey("HS256", secret)), true},
		{"RS256 under kid rsa", as.Token(iss, accesstokentest.WithSigningKey("RS256", rsaKey), accesstokentest.WithKeyID("rsa")), true},
		{"Ed25519 under kid ed", as.Token(iss, accesstokentest.WithSigningKey("Ed25519", edKey), accesstokentest.WithKeyID("ed")), true},
		{"HS256 with another secret", as.Token(iss, accesstokentest.WithSigningKey("HS256", []byte("another secret, also 32 bytes!!!"))), false},
		{"the server's own key", as.Token(iss), false},
	}
	for _, tt := range tests {
		_, err := v.Validate(context.Background(), tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	if h := header(t, as.Token(iss, accesstokentest.WithSigningKey("HS256", secret))); h["kid"] != nil || h["alg"] != "HS256" {
		t.Errorf("header %v", h)
	}
	defer func() {
		if recover() == nil {
			t.Error("an RSA key for ES256 did not panic")
		}
	}()
	as.Token(nil, accesstokentest.WithSigningKey("ES256", rsaKey))
}

// TestRetiredKeys: with WithRetiredKeys(1), tokens minted before a rotation
// verify until the next one.
func TestRetiredKeys(t *testing.T) {
	as := accesstokentest.NewServer(accesstokentest.WithRetiredKeys(1))
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, MinRefreshInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	gen1 := as.Token(nil, accesstokentest.WithAlgorithm("ES256"))
	as.RotateKeys()
	gen2 := as.Token(nil, accesstokentest.WithAlgorithm("ES256"))
	refresh := func() {
		time.Sleep(2 * time.Millisecond)
		if err := v.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	refresh()
	for _, tok := range []string{gen1, gen2} {
		if _, err := v.Validate(context.Background(), tok); err != nil {
			t.Fatalf("after one rotation: %v", err)
		}
	}
	as.RotateKeys()
	refresh()
	if _, err := v.Validate(context.Background(), gen1); err == nil {
		t.Fatal("a key two rotations old still verifies")
	}
	if _, err := v.Validate(context.Background(), gen2); err != nil {
		t.Fatalf("the retired key of the last rotation: %v", err)
	}
}
