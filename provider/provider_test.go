package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/replica"
	"github.com/tokenguard/accesstoken/provider"
)

// Every test here talks HTTPS to replicas of the platforms (package
// internal/replica, which cites the pages each is built from), reached by
// the platforms' real host names through the replica network's client.

// validator starts a Validator for cfg over n, waiting for its keys.
func validator(t *testing.T, n *replica.Net, cfg accesstoken.Config) *accesstoken.Validator {
	t.Helper()
	cfg.HTTPClient = n.Client()
	cfg.StrictStart = true
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// multi starts a MultiIssuer for cfg over n.
func multi(t *testing.T, n *replica.Net, cfg accesstoken.MultiIssuerConfig) *accesstoken.MultiIssuer {
	t.Helper()
	for i := range cfg.Issuers {
		cfg.Issuers[i].HTTPClient = n.Client()
		cfg.Issuers[i].StrictStart = true
	}
	if resolve := cfg.Resolve; resolve != nil {
		cfg.Resolve = func(ctx context.Context, issuer string) (*accesstoken.Config, error) {
			c, err := resolve(ctx, issuer)
			if c != nil {
				c.HTTPClient = n.Client()
			}
			return c, err
		}
	}
	m, err := accesstoken.NewMultiIssuer(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewMultiIssuer: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// want is what a test expects of an accepted token.
type want struct {
	Subject, ClientID, Issuer string
	Scopes, Roles             []string
	Introspected              bool
}

func got(c *accesstoken.Claims) want {
	return want{c.Subject, c.ClientID, c.Issuer, c.Scopes, c.Roles, c.Introspected}
}

func accept(t *testing.T, v accesstoken.TokenValidator, token string, w want) {
	t.Helper()
	c, err := v.Validate(context.Background(), token)
	if err != nil {
		t.Fatalf("Validate: %v (cause: %v)", err, accesstoken.AsError(err).Err)
	}
	if diff := cmp.Diff(w, got(c)); diff != "" {
		t.Fatalf("claims (-want +got):\n%s", diff)
	}
}

// refuse checks that token is refused as kind, with a cause containing
// cause (for the log: it is what an operator reads).
func refuse(t *testing.T, v accesstoken.TokenValidator, token string, kind error, cause string) {
	t.Helper()
	_, err := v.Validate(context.Background(), token)
	if !errors.Is(err, kind) {
		t.Fatalf("Validate: %v, want %v", err, kind)
	}
	if e := accesstoken.AsError(err); !strings.Contains(fmt.Sprint(e.Err), cause) {
		t.Fatalf("cause %q does not contain %q", e.Err, cause)
	}
}

// paths lists the requests n served, as "host path".
func paths(n *replica.Net) []string {
	var out []string
	for _, r := range n.Requests() {
		out = append(out, r.Host+" "+r.Path)
	}
	return out
}

const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

func TestEntra(t *testing.T) {
	n := replica.NewNet(t)
	e := replica.NewEntra(n, tenantA, tenantB)
	m := multi(t, n, provider.Entra(tenantA, replica.EntraAPIClientID, replica.EntraAPIAppIDURI))
	v2 := "https://login.microsoftonline.com/" + tenantA + "/v2.0"
	v1 := "https://sts.windows.net/" + tenantA + "/"

	t.Run("v2.0 token", func(t *testing.T) {
		accept(t, m, e.AccessToken(tenantA, true, nil), want{Subject: "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
			ClientID: replica.EntraClientID, Issuer: v2, Scopes: []string{"access_as_user", "orders.read"}, Roles: []string{"Orders.Admin"}})
	})
	t.Run("v1.0 token", func(t *testing.T) {
		accept(t, m, e.AccessToken(tenantA, false, nil), want{Subject: "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
			ClientID: replica.EntraClientID, Issuer: v1, Scopes: []string{"user_impersonation"}})
	})
	t.Run("v1.0 token naming the client ID", func(t *testing.T) {
		accept(t, m, e.AccessToken(tenantA, false, map[string]any{"aud": replica.EntraAPIClientID, "roles": []string{"Orders.Read"}}),
			want{Subject: "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", ClientID: replica.EntraClientID, Issuer: v1,
				Scopes: []string{"user_impersonation"}, Roles: []string{"Orders.Read"}})
	})
	t.Run("token of another tenant", func(t *testing.T) {
		refuse(t, m, e.AccessToken(tenantB, true, nil), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	})
	t.Run("tid of another tenant under this tenant's issuer", func(t *testing.T) {
		refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"tid": tenantB}), accesstoken.ErrInvalidToken, "claim /tid is")
		refuse(t, m, e.AccessToken(tenantA, false, map[string]any{"tid": nil}), accesstoken.ErrInvalidToken, "claim /tid is absent")
	})
	t.Run("token for Microsoft Graph", func(t *testing.T) {
		refuse(t, m, e.GraphToken(tenantA), accesstoken.ErrInvalidToken, "for Microsoft Graph")
	})
	t.Run("token for another API", func(t *testing.T) {
		refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"aud": "11111111-2222-3333-4444-555555555555"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("the v1.0 form of a v2.0 issuer's token", func(t *testing.T) {
		// A v1.0 issuer with a v2.0 shape is still judged by its issuer.
		refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"iss": "https://login.microsoftonline.com/" + tenantA + "/"}),
			accesstoken.ErrInvalidToken, "is not a trusted issuer")
	})
	t.Run("keys of the tenant only", func(t *testing.T) {
		var keyPaths []string
		for _, p := range paths(n) {
			if strings.Contains(p, "/discovery/") {
				keyPaths = append(keyPaths, p)
			}
		}
		wantPaths := []string{"login.microsoftonline.com /" + tenantA + "/discovery/v2.0/keys", "login.microsoftonline.com /" + tenantA + "/discovery/keys"}
		if diff := cmp.Diff(wantPaths, keyPaths, cmpSorted); diff != "" {
			t.Fatalf("key fetches (-want +got):\n%s", diff)
		}
	})
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
})

func TestEntraTenantIDNotAGUID(t *testing.T) {
	for _, tid := range []string{"common", "contoso.onmicrosoft.com", ""} {
		_, err := accesstoken.NewMultiIssuer(context.Background(), provider.Entra(tid, "api"))
		if err == nil || !strings.Contains(err.Error(), "not a GUID") {
			t.Errorf("Entra(%q): %v, want an error that says the tenant ID is not a GUID", tid, err)
		}
	}
	// Upper case is how some portals show it; Entra writes it lower case.
	cfg := provider.Entra(strings.ToUpper(tenantA), "api")
	if cfg.Issuers[0].Issuer != "https://login.microsoftonline.com/"+tenantA+"/v2.0" {
		t.Fatalf("issuer %q", cfg.Issuers[0].Issuer)
	}
}

func TestEntraTenants(t *testing.T) {
	n := replica.NewNet(t)
	e := replica.NewEntra(n, tenantA, tenantB)
	const tenantC = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
	var asked sync.Map
	var fail atomic.Bool
	trusted := func(ctx context.Context, tid string) (bool, error) {
		n, _ := asked.LoadOrStore(tid, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if fail.Load() {
			return false, errors.New("tenant directory down")
		}
		return tid == tenantA, nil
	}
	m := multi(t, n, provider.EntraTenants(trusted, replica.EntraAPIClientID, replica.EntraAPIAppIDURI))
	accept(t, m, e.AccessToken(tenantA, true, nil), want{Subject: "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
		ClientID: replica.EntraClientID, Issuer: "https://login.microsoftonline.com/" + tenantA + "/v2.0",
		Scopes: []string{"access_as_user", "orders.read"}, Roles: []string{"Orders.Admin"}})
	accept(t, m, e.AccessToken(tenantA, false, nil), want{Subject: "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
		ClientID: replica.EntraClientID, Issuer: "https://sts.windows.net/" + tenantA + "/", Scopes: []string{"user_impersonation"}})

	n.Reset()
	refuse(t, m, e.AccessToken(tenantB, true, nil), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	refuse(t, m, e.AccessToken(tenantB, false, nil), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"iss": "https://evil.example/" + tenantA + "/v2.0"}), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"iss": "https://login.microsoftonline.com/common/v2.0"}), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	if r := paths(n); len(r) != 0 {
		t.Fatalf("untrusted tenants caused requests: %v", r)
	}
	if _, ok := asked.Load("common"); ok {
		t.Fatal("trusted was asked about an issuer that is not a tenant's")
	}
	// tid must be the tenant "iss" names.
	refuse(t, m, e.AccessToken(tenantA, true, map[string]any{"tid": tenantB}), accesstoken.ErrInvalidToken, "claim /tid is")

	fail.Store(true)
	refuse(t, m, e.AccessToken(tenantC, true, nil), accesstoken.ErrUnavailable, "tenant directory down")
	if n, _ := asked.Load(tenantA); n.(*atomic.Int32).Load() != 2 {
		t.Fatalf("trusted asked %d times about tenant A, want 2 (once per issuer form)", n.(*atomic.Int32).Load())
	}

	m2 := multi(t, n, provider.EntraTenants(nil, replica.EntraAPIClientID))
	refuse(t, m2, e.AccessToken(tenantA, true, nil), accesstoken.ErrInvalidToken, "is not a trusted issuer")
}

func TestCognito(t *testing.T) {
	n := replica.NewNet(t)
	c := replica.NewCognito(n, "eu-west-1", "eu-west-1_AbCdEf123")
	v := validator(t, n, provider.Cognito("eu-west-1", "eu-west-1_AbCdEf123", "some-other-client", replica.CognitoClientID))
	t.Run("access token", func(t *testing.T) {
		accept(t, v, c.AccessToken(nil), want{Subject: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", ClientID: replica.CognitoClientID,
			Issuer: c.Issuer, Scopes: []string{"aws.cognito.signin.user.admin", "orders/read"}, Roles: []string{"admin"}})
	})
	t.Run("ID token", func(t *testing.T) {
		refuse(t, v, c.IDToken(nil), accesstoken.ErrInvalidToken, "/client_id (absent) names none")
	})
	t.Run("ID token that names the client", func(t *testing.T) {
		refuse(t, v, c.IDToken(map[string]any{"client_id": replica.CognitoClientID}), accesstoken.ErrInvalidToken, `claim /token_use is "id"`)
	})
	t.Run("token_use other than access", func(t *testing.T) {
		refuse(t, v, c.AccessToken(map[string]any{"token_use": "id"}), accesstoken.ErrInvalidToken, `claim /token_use is "id"`)
		refuse(t, v, c.AccessToken(map[string]any{"token_use": nil}), accesstoken.ErrInvalidToken, `claim /token_use is absent`)
	})
	t.Run("another app client", func(t *testing.T) {
		refuse(t, v, c.AccessToken(map[string]any{"client_id": "4ipqj2p7jqhhcmdn4lt85gbp2u"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("another user pool", func(t *testing.T) {
		refuse(t, v, c.AccessToken(map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}), accesstoken.ErrInvalidToken, "iss")
	})
	t.Run("metadata paths", func(t *testing.T) {
		want := []string{
			"cognito-idp.eu-west-1.amazonaws.com /.well-known/oauth-authorization-server/eu-west-1_AbCdEf123",
			"cognito-idp.eu-west-1.amazonaws.com /eu-west-1_AbCdEf123/.well-known/openid-configuration",
			"cognito-idp.eu-west-1.amazonaws.com /eu-west-1_AbCdEf123/.well-known/jwks.json",
		}
		if diff := cmp.Diff(want, paths(n)[:3]); diff != "" {
			t.Fatalf("requests (-want +got):\n%s", diff)
		}
	})
}

func TestGoogleIDTokens(t *testing.T) {
	n := replica.NewNet(t)
	g := replica.NewGoogle(n)
	const run = "https://orders-abc123-ew.a.run.app"
	m := multi(t, n, provider.Google(replica.GoogleClientID, run))
	t.Run("https issuer", func(t *testing.T) {
		accept(t, m, g.IDToken(nil), want{Subject: "10769150350006150715113082367", ClientID: replica.GoogleClientID, Issuer: "https://accounts.google.com"})
	})
	t.Run("bare issuer", func(t *testing.T) {
		accept(t, m, g.IDToken(map[string]any{"iss": "accounts.google.com"}), want{Subject: "10769150350006150715113082367",
			ClientID: replica.GoogleClientID, Issuer: "accounts.google.com"})
	})
	t.Run("Cloud Run service-to-service", func(t *testing.T) {
		sa := map[string]any{"aud": run, "azp": "117827361429813712345", "sub": "117827361429813712345",
			"email": "caller@project.iam.gserviceaccount.com", "at_hash": nil, "hd": nil}
		accept(t, m, g.IDToken(sa), want{Subject: "117827361429813712345", ClientID: "117827361429813712345", Issuer: "https://accounts.google.com"})
	})
	t.Run("another audience", func(t *testing.T) {
		refuse(t, m, g.IDToken(map[string]any{"aud": "999-other.apps.googleusercontent.com"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("another issuer", func(t *testing.T) {
		refuse(t, m, g.IDToken(map[string]any{"iss": "http://accounts.google.com"}), accesstoken.ErrInvalidToken, "is not a trusted issuer")
	})
	t.Run("keys from googleapis only", func(t *testing.T) {
		for _, p := range paths(n) {
			if p != "www.googleapis.com /oauth2/v3/certs" {
				t.Fatalf("request %s; only the certs should be fetched", p)
			}
		}
	})
}

func TestGoogleAccessTokens(t *testing.T) {
	n := replica.NewNet(t)
	g := replica.NewGoogle(n)
	v := validator(t, n, provider.GoogleAccessTokens("another-client.apps.googleusercontent.com", replica.GoogleClientID))
	ctx := context.Background()
	tokeninfoCalls := func() int {
		c := 0
		for _, r := range n.Requests() {
			if r.Host == "oauth2.googleapis.com" {
				c++
				if r.Method != http.MethodPost || r.Query != "" || r.Form.Get("access_token") == "" {
					t.Fatalf("tokeninfo asked with %s ?%q: the token belongs in the POST body", r.Method, r.Query)
				}
			}
		}
		return c
	}
	good := g.AccessToken("ya29.a0AfB_byC1good", nil)
	accept(t, v, good, want{Subject: "10769150350006150715113082367", ClientID: replica.GoogleClientID, Issuer: "https://accounts.google.com",
		Scopes: []string{"https://www.googleapis.com/auth/userinfo.email", "openid"}, Introspected: true})
	accept(t, v, good, want{Subject: "10769150350006150715113082367", ClientID: replica.GoogleClientID, Issuer: "https://accounts.google.com",
		Scopes: []string{"https://www.googleapis.com/auth/userinfo.email", "openid"}, Introspected: true})
	if c := tokeninfoCalls(); c != 1 {
		t.Fatalf("%d tokeninfo calls for two validations of one token, want 1", c)
	}

	t.Run("concurrent first sights share one call", func(t *testing.T) {
		n.Reset()
		tok := g.AccessToken("ya29.a0AfB_byC1concurrent", nil)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				_, err := v.Validate(ctx, tok)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if c := tokeninfoCalls(); c != 1 {
			t.Fatalf("%d tokeninfo calls for 16 concurrent validations, want 1", c)
		}
	})
	t.Run("Google does not know the token: 400", func(t *testing.T) {
		refuse(t, v, "ya29.unknown", accesstoken.ErrInvalidToken, "active")
	})
	t.Run("issued to another client", func(t *testing.T) {
		tok := g.AccessToken("ya29.a0AfB_byC1other", map[string]any{"aud": "555-x.apps.googleusercontent.com", "azp": "555-x.apps.googleusercontent.com"})
		refuse(t, v, tok, accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("azp is the client, aud another", func(t *testing.T) {
		tok := g.AccessToken("ya29.a0AfB_byC1azp", map[string]any{"aud": "555-x.apps.googleusercontent.com"})
		c, err := v.Validate(ctx, tok)
		if err != nil || c.ClientID != replica.GoogleClientID {
			t.Fatalf("Validate: %v %+v", err, c)
		}
	})
	t.Run("tokeninfo down: 503", func(t *testing.T) {
		g.FailTokenInfo(http.StatusServiceUnavailable)
		defer g.FailTokenInfo(0)
		tok := g.AccessToken("ya29.a0AfB_byC1outage", nil)
		refuse(t, v, tok, accesstoken.ErrUnavailable, "HTTP status 503")
		g.FailTokenInfo(0)
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("after the outage: %v (an outage must not be cached)", err)
		}
	})
	t.Run("answer without exp", func(t *testing.T) {
		tok := g.AccessToken("ya29.a0AfB_byC1noexp", map[string]any{"exp": nil})
		refuse(t, v, tok, accesstoken.ErrUnavailable, `"exp"`)
	})
	t.Run("a JWT is an ID token, not an access token", func(t *testing.T) {
		refuse(t, v, g.IDToken(nil), accesstoken.ErrInvalidToken, "its JWTs are ID tokens")
	})
	t.Run("the token never appears in an error", func(t *testing.T) {
		g.FailTokenInfo(http.StatusBadGateway)
		defer g.FailTokenInfo(0)
		const secret = "ya29.a0AfB_byC1-secret-value"
		_, err := v.Validate(ctx, g.AccessToken(secret, nil))
		if err == nil || strings.Contains(fmt.Sprintf("%v %v", err, accesstoken.AsError(err).Err), secret) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestAuth0(t *testing.T) {
	n := replica.NewNet(t)
	a := replica.NewAuth0(n, "example.eu.auth0.com")
	cfg := provider.Auth0("example.eu.auth0.com", replica.Auth0API)
	if cfg.Issuer != "https://example.eu.auth0.com/" {
		t.Fatalf("issuer %q, want Auth0's, with the slash", cfg.Issuer)
	}
	v := validator(t, n, cfg)
	iss := "https://example.eu.auth0.com/"
	t.Run("access token with the userinfo audience", func(t *testing.T) {
		accept(t, v, a.AccessToken(nil), want{Subject: "auth0|5f7c8ec7c33c6c004bbafe82", ClientID: replica.Auth0ClientID, Issuer: iss,
			Scopes: []string{"openid", "profile", "read:orders"}, Roles: []string{"read:orders"}})
	})
	t.Run("RFC 9068 profile, client credentials", func(t *testing.T) {
		accept(t, v, a.RFC9068Token(nil), want{Subject: replica.Auth0ClientID + "@clients", ClientID: replica.Auth0ClientID, Issuer: iss,
			Scopes: []string{"read:orders"}, Roles: []string{"read:orders"}})
	})
	t.Run("issuer without the slash", func(t *testing.T) {
		refuse(t, v, a.AccessToken(map[string]any{"iss": "https://example.eu.auth0.com"}), accesstoken.ErrInvalidToken, "iss")
	})
	t.Run("token for the userinfo endpoint only", func(t *testing.T) {
		refuse(t, v, a.AccessToken(map[string]any{"aud": "https://example.eu.auth0.com/userinfo"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("metadata paths", func(t *testing.T) {
		want := []string{
			"example.eu.auth0.com /.well-known/oauth-authorization-server",
			"example.eu.auth0.com /.well-known/openid-configuration",
			"example.eu.auth0.com /.well-known/jwks.json",
		}
		if diff := cmp.Diff(want, paths(n)[:3]); diff != "" {
			t.Fatalf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("custom domain and a domain written as a URL", func(t *testing.T) {
		login := replica.NewAuth0(n, "login.example.com")
		v := validator(t, n, provider.Auth0("https://login.example.com/", replica.Auth0API))
		accept(t, v, login.RFC9068Token(nil), want{Subject: replica.Auth0ClientID + "@clients", ClientID: replica.Auth0ClientID,
			Issuer: "https://login.example.com/", Scopes: []string{"read:orders"}, Roles: []string{"read:orders"}})
	})
}

func TestOkta(t *testing.T) {
	n := replica.NewNet(t)
	o := replica.NewOkta(n, "example.okta.com", "default")
	cfg, err := provider.Okta("https://example.okta.com/oauth2/default", "api://default")
	if err != nil {
		t.Fatal(err)
	}
	v := validator(t, n, cfg)
	iss := "https://example.okta.com/oauth2/default"
	t.Run("access token", func(t *testing.T) {
		accept(t, v, o.AccessToken(nil), want{Subject: "john.doe@example.com", ClientID: replica.OktaClientID, Issuer: iss,
			Scopes: []string{"openid", "email", "orders.read"}, Roles: []string{"Everyone", "Order Admins"}})
	})
	t.Run("org authorization server's token", func(t *testing.T) {
		// Signed with the org server's keys, which the custom server does
		// not publish: refused before its issuer is read. The accesstoken
		// command's explanation names the org server as the likely cause.
		refuse(t, v, o.OrgToken(nil), accesstoken.ErrInvalidToken, `no key in the JWKS fits kid "yqU0-2F1sDLkvt7T3BHp8i2C4lOqUpdM..." and alg RS256`)
	})
	t.Run("another audience", func(t *testing.T) {
		refuse(t, v, o.AccessToken(map[string]any{"aud": "api://other"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("metadata paths", func(t *testing.T) {
		want := []string{
			"example.okta.com /.well-known/oauth-authorization-server/oauth2/default",
			"example.okta.com /oauth2/default/v1/keys",
		}
		if diff := cmp.Diff(want, paths(n)[:2]); diff != "" {
			t.Fatalf("requests (-want +got):\n%s", diff)
		}
	})
}

func TestOktaIssuers(t *testing.T) {
	for _, tt := range []struct{ issuer, err string }{
		{"https://example.okta.com", "org authorization server"},
		{"https://example.okta.com/", "org authorization server"},
		{"https://example.okta.com/oauth2/v1", "org authorization server"},
		{"https://example.okta.com/oauth2", "org authorization server"},
		{"http://example.okta.com/oauth2/default", "not an https issuer"},
		{"example.okta.com/oauth2/default", "not an https issuer"},
		{"https://example.okta.com/oauth2/default/v1/keys", "not a custom authorization server"},
		{"https://example.okta.com/oauth2/default/", ""},
		{"https://id.example.com/oauth2/aus1a2b3c4d5e6f7g8h9", ""},
	} {
		cfg, err := provider.Okta(tt.issuer, "api://default")
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Okta(%q): %v", tt.issuer, err)
		case tt.err == "" && strings.HasSuffix(cfg.Issuer, "/"):
			t.Errorf("Okta(%q): issuer %q keeps the slash Okta does not write", tt.issuer, cfg.Issuer)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Okta(%q): %v, want an error about %q", tt.issuer, err, tt.err)
		}
	}
	_, err := provider.Okta("https://example.okta.com", "api://default")
	if !strings.Contains(err.Error(), "https://example.okta.com/oauth2/default") {
		t.Errorf("the org server's error does not say what to use instead: %v", err)
	}
}

func TestKeycloak(t *testing.T) {
	n := replica.NewNet(t)
	k := replica.NewKeycloak(n, "sso.example.com", "demo")
	v := validator(t, n, provider.Keycloak("https://sso.example.com/realms/demo/", replica.KeycloakAPI))
	t.Run("access token with an audience mapper", func(t *testing.T) {
		accept(t, v, k.AccessToken(nil), want{Subject: "f2c5e7a4-3b1d-4c8e-9a6f-2d7b1e0c4a58", ClientID: replica.KeycloakClientID,
			Issuer: k.Issuer, Scopes: []string{"openid", "email", "profile"},
			Roles: []string{"default-roles-demo", "offline_access", "uma_authorization", "orders-admin"}})
	})
	t.Run("audience account only", func(t *testing.T) {
		refuse(t, v, k.AccessToken(map[string]any{"aud": "account"}), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("ID token", func(t *testing.T) {
		refuse(t, v, k.IDToken(nil), accesstoken.ErrInvalidToken, "names none of the configured")
	})
	t.Run("another realm", func(t *testing.T) {
		refuse(t, v, k.AccessToken(map[string]any{"iss": "https://sso.example.com/realms/master"}), accesstoken.ErrInvalidToken, "iss")
	})
	t.Run("metadata paths", func(t *testing.T) {
		want := []string{
			"sso.example.com /.well-known/oauth-authorization-server/realms/demo",
			"sso.example.com /realms/demo/.well-known/openid-configuration",
			"sso.example.com /realms/demo/protocol/openid-connect/certs",
		}
		if diff := cmp.Diff(want, paths(n)[:3]); diff != "" {
			t.Fatalf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("legacy /auth path and client roles of each audience", func(t *testing.T) {
		legacy := replica.NewKeycloak(n, "old.example.com/auth", "demo")
		cfg := provider.Keycloak("https://old.example.com/auth/realms/demo", "billing/api", replica.KeycloakAPI)
		if diff := cmp.Diff([]string{"/realm_access/roles", "/resource_access/billing~1api/roles", "/resource_access/orders-api/roles"}, cfg.RoleClaims); diff != "" {
			t.Fatalf("RoleClaims (-want +got):\n%s", diff)
		}
		v := validator(t, n, cfg)
		tok := legacy.AccessToken(map[string]any{"aud": []string{"billing/api"}, "resource_access": map[string]any{
			"billing/api": map[string]any{"roles": []string{"invoices"}}, "orders-api": map[string]any{"roles": []string{"orders-admin"}}}})
		accept(t, v, tok, want{Subject: "f2c5e7a4-3b1d-4c8e-9a6f-2d7b1e0c4a58", ClientID: replica.KeycloakClientID, Issuer: legacy.Issuer,
			Scopes: []string{"openid", "email", "profile"}, Roles: []string{"default-roles-demo", "offline_access", "uma_authorization", "invoices", "orders-admin"}})
	})
}

// Every provider configuration whose platform serves its keys from its
// issuer's host refuses metadata that points elsewhere.
func TestSameOriginJWKSByDefault(t *testing.T) {
	n := replica.NewNet(t)
	a := replica.NewAuth0(n, "example.eu.auth0.com")
	// A tenant whose metadata was tampered with to point at another host's
	// keys (which hold the tenant's key, so only the origin rule refuses).
	n.Handle("tampered.auth0.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprint(w, `{"issuer":"https://tampered.auth0.com/","jwks_uri":"https://example.eu.auth0.com/.well-known/jwks.json"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	okta, _ := provider.Okta("https://tampered.auth0.com/oauth2/default", "a")
	for name, cfg := range map[string]accesstoken.Config{
		"Auth0":    provider.Auth0("tampered.auth0.com", replica.Auth0API),
		"Okta":     okta,
		"Keycloak": provider.Keycloak("https://tampered.auth0.com", "a"),
		"Cognito":  provider.Cognito("r", "p", "c"),
	} {
		if cfg.Profile == nil || !cfg.Profile.SameOriginJWKS {
			t.Errorf("%s: SameOriginJWKS is off", name)
		}
	}
	cfg := provider.Auth0("tampered.auth0.com", replica.Auth0API)
	cfg.HTTPClient = n.Client()
	v, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	refuse(t, v, a.AccessToken(map[string]any{"iss": "https://tampered.auth0.com/"}), accesstoken.ErrUnavailable, "SameOriginJWKS")
}
