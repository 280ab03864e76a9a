package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// dpopToken asks the token endpoint for a client_credentials token bound to
// key: the request carries a DPoP proof for POST <issuer>/token (RFC 9449
// §5), and oidc-provider answers token_type DPoP.
func (s *server) dpopToken(t *testing.T, key *accesstokentest.DPoPKey, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {resource}}
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", key.Proof(http.MethodPost, s.issuer+"/token"))
	req.SetBasicAuth("api-client", "api-client-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DPoP token request: HTTP %d, %v", resp.StatusCode, err)
	}
	if out.TokenType != "DPoP" || out.AccessToken == "" {
		t.Fatalf("token_type %q: not a DPoP-bound token", out.TokenType)
	}
	return out.AccessToken
}

// testDPoP: oidc-provider's DPoP-bound JWT and opaque tokens pass with their
// proof, through ValidateRequest and every adapter, and nowhere else.
func (s *server) testDPoP(t *testing.T) {
	ctx := context.Background()
	v := s.validator(t, func(c *accesstoken.Config) { c.DPoP = &accesstoken.DPoPConfig{} })
	key := accesstokentest.NewDPoPKey("ES256")
	other := accesstokentest.NewDPoPKey("ES256")
	jwt := s.dpopToken(t, key, api+"/es256", "orders:read")
	opaque := s.dpopToken(t, key, opaqueRS, "orders:read")

	// The JWT carries the thumbprint as oidc-provider computed it.
	var payload struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	raw, err := decodeSegment(strings.Split(jwt, ".")[1])
	if err != nil || json.Unmarshal(raw, &payload) != nil || payload.Cnf.JKT != key.Thumbprint() {
		t.Fatalf("cnf.jkt %q, want the key's thumbprint %q (%v)", payload.Cnf.JKT, key.Thumbprint(), err)
	}

	const target = "https://api.example.test/orders"
	request := func(tok string, k *accesstokentest.DPoPKey) *accesstoken.Request {
		return &accesstoken.Request{Scheme: "DPoP", Token: tok, Method: "GET", URL: target,
			DPoPProof: k.Proof("GET", target, accesstokentest.WithAccessToken(tok))}
	}
	for name, tok := range map[string]string{"JWT": jwt, "opaque": opaque} {
		c, err := v.ValidateRequest(ctx, request(tok, key))
		if err != nil {
			t.Fatalf("%s with its proof: %v", name, err)
		}
		if c.ClientID != "api-client" || c.Introspected != (name == "opaque") {
			t.Errorf("%s: claims %+v", name, c)
		}
		checks := []struct {
			what string
			r    *accesstoken.Request
			want error
		}{
			{"as a bearer token", &accesstoken.Request{Token: tok}, accesstoken.ErrInvalidToken},
			{"without a proof", &accesstoken.Request{Scheme: "DPoP", Token: tok, Method: "GET", URL: target}, accesstoken.ErrInvalidDPoPProof},
			{"with another key's proof", request(tok, other), accesstoken.ErrInvalidToken},
		}
		for _, ch := range checks {
			if _, err := v.ValidateRequest(ctx, ch.r); !errors.Is(err, ch.want) {
				t.Errorf("%s %s: %v, want %v", name, ch.what, err, ch.want)
			}
		}
		if _, err := v.Validate(ctx, tok); !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Errorf("%s through Validate: %v", name, err)
		}
	}

	proof := func(tok string) func(method, url string) string {
		return func(method, url string) string {
			return key.Proof(method, url, accesstokentest.WithAccessToken(tok))
		}
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			call := a.start(t, v, "orders:read", nil)
			for _, c := range []struct {
				what  string
				token string
				proof func(method, url string) string
				ok    bool
			}{
				{"DPoP JWT with its proof", jwt, proof(jwt), true},
				{"DPoP opaque token with its proof", opaque, proof(opaque), true},
				{"DPoP JWT as bearer", jwt, nil, false},
				{"DPoP opaque token as bearer", opaque, nil, false},
				{"proof made for the other token", jwt, proof(opaque), false},
			} {
				ok, client := call(c.token, c.proof)
				if ok != c.ok || (ok && client != "api-client") {
					t.Errorf("%s: ok=%v client_id=%q, want ok=%v", c.what, ok, client, c.ok)
				}
			}
		})
	}
}
