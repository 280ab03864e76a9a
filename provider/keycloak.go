package provider

import (
	"strings"

	"github.com/tokenguard/accesstoken"
)

// Keycloak configures a validator for access tokens issued by a Keycloak
// realm for an API whose client ID (the audience an audience mapper adds)
// is one of audience.
//
// realmURL is the realm's issuer, "https://{host}/realms/{realm}" (with
// "/auth" before "/realms" on Keycloak 16 and older, or wherever the
// server's relative path puts it); a trailing slash is dropped. The keys are
// discovered from {realmURL}/.well-known/openid-configuration and must be
// served from the realm's host; Keycloak's encryption key ("use": "enc")
// in the same set is left aside.
//
// Keycloak names only "account" in "aud" until the realm gives the API's
// client an audience mapper: such a token is refused like any token meant
// for another audience. Claims.ClientID is "azp"; Claims.Roles holds the
// realm roles ("/realm_access/roles") and, for each of audience, that
// client's roles ("/resource_access/{audience}/roles").
//
// References: https://www.keycloak.org/docs/latest/server_admin/#_audience,
// https://www.keycloak.org/securing-apps/oidc-layers.
func Keycloak(realmURL string, audience ...string) accesstoken.Config {
	roles := []string{"/realm_access/roles"}
	for _, a := range audience {
		roles = append(roles, "/resource_access/"+escapePointer(a)+"/roles")
	}
	return accesstoken.Config{
		Issuer:     strings.TrimSuffix(realmURL, "/"),
		Audience:   audience,
		RoleClaims: roles,
		Profile: &accesstoken.Profile{
			ClientIDClaims: []string{"/azp"},
			SameOriginJWKS: true,
		},
	}
}

// escapePointer escapes a claim name as an RFC 6901 reference token.
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
