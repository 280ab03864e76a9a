// Package provider configures a validator for the access tokens of the
// identity platforms APIs meet most: Microsoft Entra ID, Amazon Cognito,
// Google, Auth0, Okta and Keycloak. Each function returns an
// [accesstoken.Config] (or, where the platform writes two issuers, an
// [accesstoken.MultiIssuerConfig]) whose issuer, keys, audience rule and
// claim mapping follow the platform's own documentation, with its quirks
// handled through [accesstoken.Profile]:
//
//	cfg := provider.Auth0("example.eu.auth0.com", "https://api.example.com")
//	cfg.Logger = logger // any other field may still be set
//	v, err := accesstoken.NewValidator(ctx, cfg)
//
// The functions never set HTTPClient, and the URLs they build are the
// platform's public ones, exactly as the platform writes them. What a
// platform's tokens can never do (an Okta org authorization server's access
// tokens, Entra ID tokens for Microsoft Graph) fails with a message that
// says why and what to use instead.
package provider
