// Package interop checks accesstoken against panva's oidc-provider, a real
// authorization server nobody here wrote, through the public API and through
// every adapter. Run it with oidc-provider/run.sh, which starts the server
// and sets ACCESSTOKEN_INTEROP_ISSUER.
package interop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
)

const (
	api      = "https://api.example.test"
	other    = "https://other.example.test"
	opaqueRS = api + "/opaque"
)

var algs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// server is the running oidc-provider.
type server struct {
	issuer string
	admin  string
	mtls   string // the HTTPS listener asking for client certificates
	tlsDir string // its CA (ca.pem) and server certificate
}

func needServer(t *testing.T) *server {
	t.Helper()
	issuer := os.Getenv("ACCESSTOKEN_INTEROP_ISSUER")
	if issuer == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ACCESSTOKEN_INTEROP_ISSUER is not set: in CI these tests must run through interop/oidc-provider/run.sh")
		}
		t.Skip("no oidc-provider: run interop/oidc-provider/run.sh (needs Node.js) to run the interoperability tests")
	}
	return &server{issuer: issuer, admin: os.Getenv("ACCESSTOKEN_INTEROP_ADMIN_SECRET"),
		mtls: os.Getenv("ACCESSTOKEN_INTEROP_MTLS"), tlsDir: os.Getenv("ACCESSTOKEN_INTEROP_TLS_DIR")}
}

// token asks the token endpoint for a client_credentials token; resource ""
// asks without a resource indicator.
func (s *server) token(t *testing.T, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if resource != "" {
		form.Set("resource", resource)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	s.post(t, "/token", form, "api-client", "api-client-secret", &out)
	if out.AccessToken == "" {
		t.Fatal("no access_token in the token response")
	}
	return out.AccessToken
}

// revoke revokes a token (RFC 7009) as the client it was issued to.
func (s *server) revoke(t *testing.T, token string) {
	t.Helper()
	s.post(t, "/token/revocation", url.Values{"token": {token}}, "api-client", "api-client-secret", nil)
}

func (s *server) post(t *testing.T, path string, form url.Values, id, secret string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d", path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// adminCall uses the server's test-only routes.
func (s *server) adminCall(t *testing.T, what string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/__test/"+what, nil)
	req.Header.Set("X-Admin-Secret", s.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s: HTTP %d", what, resp.StatusCode)
	}
}

func (s *server) validator(t *testing.T, edit func(*accesstoken.Config)) *accesstoken.Validator {
	t.Helper()
	audience := []string{opaqueRS}
	for _, a := range algs {
		audience = append(audience, api+"/"+strings.ToLower(a))
	}
	cfg := accesstoken.Config{
		Issuer:      s.issuer,
		Audience:    audience,
		TokenTypes:  []string{"at+jwt"}, // oidc-provider issues RFC 9068 tokens: hold it to that
		StrictStart: true,
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID: "rs-basic", ClientSecret: "rs-basic-secret",
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestInterop runs in order: the last step stops the server.
func TestInterop(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	v := s.validator(t, nil)

	t.Run("JWT per algorithm", func(t *testing.T) {
		for _, alg := range algs {
			resource := api + "/" + strings.ToLower(alg)
			tok := s.token(t, resource, "orders:read")
			if got := headerAlg(t, tok); got != alg {
				t.Fatalf("asked for %s, server signed %s", alg, got)
			}
			c, err := v.Validate(ctx, tok)
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			// oidc-provider sets sub to the client for client_credentials.
			if c.ClientID != "api-client" || c.Subject != "api-client" || strings.Join(c.Scopes, " ") != "orders:read" ||
				strings.Join(c.Audience, " ") != resource || c.Issuer != s.issuer || c.Introspected || c.ID == "" {
				t.Errorf("%s: claims %+v", alg, c)
			}
		}
	})

	t.Run("token for another resource", func(t *testing.T) {
		_, err := v.Validate(ctx, s.token(t, other, "orders:read"))
		if !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("opaque token by introspection", func(t *testing.T) {
		post := s.validator(t, func(c *accesstoken.Config) {
			c.Introspection = &accesstoken.IntrospectionConfig{
				ClientID: "rs-post", ClientSecret: "rs-post-secret", AuthMethod: "client_secret_post",
			}
		})
		for name, val := range map[string]*accesstoken.Validator{"client_secret_basic": v, "client_secret_post": post} {
			tok := s.token(t, opaqueRS, "orders:read orders:write")
			c, err := val.Validate(ctx, tok)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The introspection answer has no "sub", unlike the JWT.
			if !c.Introspected || c.ClientID != "api-client" || c.Subject != "" || !c.HasScope("orders:write") || strings.Join(c.Audience, " ") != opaqueRS {
				t.Errorf("%s: claims %+v", name, c)
			}
		}
	})

	t.Run("signed introspection answers (RFC 9701)", func(t *testing.T) {
		signed := s.validator(t, func(c *accesstoken.Config) {
			c.Introspection = &accesstoken.IntrospectionConfig{
				ClientID: "rs-jwt", ClientSecret: "rs-jwt-secret", SignedResponses: true, CacheSize: -1,
			}
		})
		tok := s.token(t, opaqueRS, "orders:read")
		c, err := signed.Validate(ctx, tok)
		if err != nil {
			t.Fatalf("signed answer: %v", err)
		}
		if !c.Introspected || c.ClientID != "api-client" || !c.HasScope("orders:read") {
			t.Errorf("claims %+v", c)
		}
		s.revoke(t, tok)
		if _, err := signed.Validate(ctx, tok); !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Fatalf("revoked, signed answer: %v", err)
		}
		// oidc-provider signs for every client that asks (RS256 by default):
		// rs-basic's RS256 answer verifies as well as rs-jwt's ES256 one.
		// (A plain JSON answer to SignedResponses is refused; the core's
		// TestSignedIntrospectionRules shows it.)
		rsBasic := s.validator(t, func(c *accesstoken.Config) {
			c.Introspection = &accesstoken.IntrospectionConfig{
				ClientID: "rs-basic", ClientSecret: "rs-basic-secret", SignedResponses: true, CacheSize: -1,
			}
		})
		if _, err := rsBasic.Validate(ctx, s.token(t, opaqueRS, "orders:read")); err != nil {
			t.Fatalf("RS256-signed answer: %v", err)
		}
	})

	t.Run("opaque token without resource has no aud", func(t *testing.T) {
		tok := s.token(t, "", "orders:read")
		if _, err := v.Validate(ctx, tok); !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Fatalf("token without aud accepted by default: %v", err)
		}
		lenient := s.validator(t, func(c *accesstoken.Config) { c.Introspection.AcceptMissingAudience = true })
		if _, err := lenient.Validate(ctx, tok); err != nil {
			t.Fatalf("with AcceptMissingAudience: %v", err)
		}
	})

	t.Run("revoked opaque token", func(t *testing.T) {
		uncached := s.validator(t, func(c *accesstoken.Config) { c.Introspection.CacheSize = -1 })
		tok := s.token(t, opaqueRS, "orders:read")
		if _, err := uncached.Validate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		s.revoke(t, tok)
		if _, err := uncached.Validate(ctx, tok); !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Fatalf("revoked token: %v", err)
		}
	})

	t.Run("adapters", func(t *testing.T) {
		good := s.token(t, api+"/es256", "orders:read")
		opaque := s.token(t, opaqueRS, "orders:read")
		bad := s.token(t, other, "orders:read")
		for _, a := range adapters {
			t.Run(a.name, func(t *testing.T) {
				call := a.start(t, v, "orders:read", nil)
				for _, c := range []struct {
					token string
					ok    bool
				}{{good, true}, {opaque, true}, {bad, false}, {"", false}} {
					ok, client := call(c.token, nil)
					if ok != c.ok || (ok && client != "api-client") {
						t.Errorf("token %.10q: ok=%v client_id=%q, want ok=%v", c.token, ok, client, c.ok)
					}
				}
			})
		}
	})

	t.Run("DPoP-bound tokens", func(t *testing.T) { s.testDPoP(t) })
	t.Run("certificate-bound tokens", func(t *testing.T) { s.testMTLS(t) })
	t.Run("encrypted tokens (JWE)", func(t *testing.T) { s.testJWE(t) })
	t.Run("MCP step-up with the TypeScript SDK", func(t *testing.T) { s.testMCPStepUp(t) })

	t.Run("key rotation", func(t *testing.T) {
		before := headerKID(t, s.token(t, api+"/es256", "orders:read"))
		s.adminCall(t, "rotate")
		tok := s.token(t, api+"/es256", "orders:read")
		if after := headerKID(t, tok); after == before {
			t.Fatalf("kid %q unchanged by rotation", after)
		}
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("token signed with the new key: %v", err)
		}
	})

	t.Run("server stopped", func(t *testing.T) {
		// A JWT whose key the validator holds, and an opaque token it has
		// never seen.
		jwt := s.token(t, api+"/rs256", "orders:read")
		if _, err := v.Validate(ctx, jwt); err != nil {
			t.Fatal(err)
		}
		opaque := s.token(t, opaqueRS, "orders:read")
		s.adminCall(t, "shutdown")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := http.Get(s.issuer + "/jwks"); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("server still answering")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := v.Validate(ctx, jwt); err != nil {
			t.Fatalf("JWT on cached keys: %v", err)
		}
		if _, err := v.Validate(ctx, opaque); !errors.Is(err, accesstoken.ErrUnavailable) {
			t.Fatalf("opaque token with the server down: %v, want ErrUnavailable", err)
		}
	})
}

func headerField(t *testing.T, tok, field string) string {
	t.Helper()
	var h map[string]any
	raw, err := decodeSegment(strings.Split(tok, ".")[0])
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("token header unreadable: %v", err)
	}
	s, _ := h[field].(string)
	return s
}

func headerAlg(t *testing.T, tok string) string { return headerField(t, tok, "alg") }
func headerKID(t *testing.T, tok string) string { return headerField(t, tok, "kid") }
