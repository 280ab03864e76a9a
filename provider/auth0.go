package provider

import (
	"strings"

	"github.com/tokenguard/accesstoken"
)

// Auth0 configures a validator for access tokens issued by an Auth0 tenant
// for an API whose identifier is one of audience.
//
// domain is the tenant's domain ("example.eu.auth0.com") or a custom domain
// ("login.example.com"); a scheme and trailing slash are dropped. Auth0
// writes its issuer with a trailing slash, "https://{domain}/", and a
// configuration without it refuses every token; this one has it. The keys
// are discovered from https://{domain}/.well-known/openid-configuration and
// must be served from that host (Profile.SameOriginJWKS).
//
// Auth0 adds "https://{domain}/userinfo" to "aud" beside the API's
// identifier when the token also grants openid: the token is accepted when
// "aud" names any of audience. Claims.ClientID is "client_id" (RFC 9068
// profile) or else "azp" (Auth0 token profile); Claims.Roles holds the RBAC
// "permissions" (and "roles", for a custom claim of that name).
//
// References: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles,
// https://auth0.com/docs/secure/tokens/json-web-tokens/json-web-key-sets.
func Auth0(domain string, audience ...string) accesstoken.Config {
	domain = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(domain, "https://"), "http://"), "/")
	return accesstoken.Config{
		Issuer:   "https://" + domain + "/",
		Audience: audience,
		Profile: &accesstoken.Profile{
			ClientIDClaims: []string{"/client_id", "/azp"},
			SameOriginJWKS: true,
		},
	}
}
