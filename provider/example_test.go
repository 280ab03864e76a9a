package provider_test

import (
	"context"
	"fmt"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/provider"
)

func ExampleAuth0() {
	cfg := provider.Auth0("example.eu.auth0.com", "https://api.example.com")
	fmt.Println(cfg.Issuer, cfg.Audience)
	// Output: https://example.eu.auth0.com/ [https://api.example.com]
}

func ExampleOkta() {
	cfg, err := provider.Okta("https://example.okta.com/oauth2/default", "api://default")
	fmt.Println(cfg.Issuer, err)

	_, err = provider.Okta("https://example.okta.com", "api://default")
	fmt.Println(err)
	// Output:
	// https://example.okta.com/oauth2/default <nil>
	// provider.Okta: "https://example.okta.com" is Okta's org authorization server, whose access tokens are meant for Okta's own APIs and can only be validated by Okta; create a custom authorization server for your API (or use the built-in one) and pass its issuer, such as https://example.okta.com/oauth2/default
}

func ExampleEntra() {
	cfg := provider.Entra("72f988bf-86f1-41af-91ab-2d7cd011db47",
		"6e74172b-be56-4843-9ff4-e66a39bb12e3", "api://6e74172b-be56-4843-9ff4-e66a39bb12e3")
	for _, c := range cfg.Issuers {
		fmt.Println(c.Issuer, c.JWKSURL)
	}
	// Output:
	// https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0 https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys
	// https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/ https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/keys
}

func ExampleEntraTenants() {
	customers := map[string]bool{"72f988bf-86f1-41af-91ab-2d7cd011db47": true}
	cfg := provider.EntraTenants(func(ctx context.Context, tenantID string) (bool, error) {
		return customers[tenantID], nil
	}, "6e74172b-be56-4843-9ff4-e66a39bb12e3")

	ctx := context.Background()
	for _, iss := range []string{
		"https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
		"https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
		"https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
	} {
		c, _ := cfg.Resolve(ctx, iss)
		fmt.Println(c != nil)
	}
	// Output:
	// true
	// false
	// false
}

func ExampleCognito() {
	cfg := provider.Cognito("eu-west-1", "eu-west-1_AbCdEf123", "57cbishk4j24pabc1234567890")
	fmt.Println(cfg.Issuer)
	fmt.Println(cfg.Profile.AudienceClaim, cfg.Profile.RequiredClaims, cfg.RoleClaims)
	// Output:
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123
	// /client_id map[/token_use:access] [/cognito:groups]
}

func ExampleGoogle() {
	for _, c := range provider.Google("https://orders-abc123-ew.a.run.app").Issuers {
		fmt.Println(c.Issuer, c.JWKSURL)
	}
	access := provider.GoogleAccessTokens("1234987819200-abc.apps.googleusercontent.com")
	fmt.Println(access.Introspection.Endpoint)
	// Output:
	// https://accounts.google.com https://www.googleapis.com/oauth2/v3/certs
	// accounts.google.com https://www.googleapis.com/oauth2/v3/certs
	// https://oauth2.googleapis.com/tokeninfo
}

func ExampleKeycloak() {
	as := accesstokentest.NewServer() // stands in for the realm
	defer as.Close()
	ctx := context.Background()
	v, err := accesstoken.NewValidator(ctx, provider.Keycloak(as.Issuer(), "orders-api"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	token := as.Token(map[string]any{
		"aud": []string{"orders-api", "account"}, "azp": "orders-frontend",
		"realm_access":    map[string]any{"roles": []string{"offline_access"}},
		"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"orders-admin"}}},
	})
	c, err := v.Validate(ctx, token)
	fmt.Println(c.ClientID, c.Roles, err)

	_, err = v.Validate(ctx, as.Token(map[string]any{"aud": "account"})) // no audience mapper
	fmt.Println(err)
	// Output:
	// orders-frontend [offline_access orders-admin] <nil>
	// accesstoken: invalid token: The access token is meant for another audience: aud ["account"] names none of the configured audiences
}
