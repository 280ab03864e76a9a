package provider

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tokenguard/accesstoken"
)

// Okta configures a validator for access tokens issued by an Okta custom
// authorization server for an API whose audience is one of audience (Okta's
// default authorization server uses "api://default").
//
// issuer is the authorization server's issuer, exactly as its metadata
// writes it: "https://{yourOktaDomain}/oauth2/{authorizationServerId}"
// ("default" included, a custom domain too). Its keys are discovered from
// its metadata and must be served from the issuer's host.
//
// An org authorization server's issuer ("https://{yourOktaDomain}", no
// "/oauth2/...") is an error: Okta issues its access tokens for Okta's own
// APIs, signs them with keys meant for Okta alone, and documents that only
// Okta can validate them; a resource server needs a custom authorization
// server.
//
// Claims.ClientID is "cid"; Claims.Scopes "scp" (an array); Claims.Roles
// holds "groups" (the claim Okta's groups claim usually adds) beside the
// default role claims.
//
// References: https://developer.okta.com/docs/concepts/auth-servers/,
// https://developer.okta.com/docs/guides/validate-access-tokens/.
func Okta(issuer string, audience ...string) (accesstoken.Config, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return accesstoken.Config{}, fmt.Errorf("provider.Okta: %q is not an https issuer URL such as https://example.okta.com/oauth2/default", issuer)
	}
	id, ok := strings.CutPrefix(u.Path, "/oauth2/")
	if !ok || id == "" || id == "v1" || strings.Contains(id, "/") {
		if u.Path == "" || u.Path == "/oauth2" || strings.HasPrefix(u.Path, "/oauth2/v1") {
			return accesstoken.Config{}, fmt.Errorf("provider.Okta: %q is Okta's org authorization server, whose access tokens "+
				"are meant for Okta's own APIs and can only be validated by Okta; create a custom authorization server "+
				"for your API (or use the built-in one) and pass its issuer, such as https://%s/oauth2/default", issuer, u.Host)
		}
		return accesstoken.Config{}, fmt.Errorf("provider.Okta: %q is not a custom authorization server's issuer "+
			"(https://{yourOktaDomain}/oauth2/{authorizationServerId})", issuer)
	}
	return accesstoken.Config{
		Issuer:     issuer,
		Audience:   audience,
		RoleClaims: []string{"/roles", "/permissions", "/realm_access/roles", "/groups"},
		Profile: &accesstoken.Profile{
			ClientIDClaims: []string{"/cid"},
			SameOriginJWKS: true,
		},
	}, nil
}
