package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokenguard/accesstoken"
)

// Entra configures a validator for access tokens that Microsoft Entra ID
// issues, in tenant tenantID, for an API whose audience is one of audience.
//
// Entra issues v1.0 tokens ("iss" "https://sts.windows.net/{tid}/", client
// in "appid") or v2.0 tokens ("iss" "https://login.microsoftonline.com/{tid}/v2.0",
// client in "azp") for the same API, as its manifest's
// requestedAccessTokenVersion says; both are accepted, with the tenant's
// keys from https://login.microsoftonline.com/{tid}/discovery/keys and
// .../discovery/v2.0/keys. List every form the API's audience takes: v2.0
// tokens name its client ID, v1.0 tokens its App ID URI ("api://...") or
// client ID, as the client asked.
//
// A token is accepted only when "tid" is tenantID. A token whose JOSE
// header has "nonce" is one Entra issued for Microsoft Graph: its signature
// covers a hash of that nonce, so no API but Graph can verify it. It is
// refused with a cause that says so; the client should ask for a token
// with the API's own scope (api://{client-id}/.default, say) instead.
//
// Claims.ClientID is "azp" or "appid"; Claims.Scopes "scp" (space-delimited);
// Claims.Roles the app roles, "roles".
//
// tenantID is the directory (tenant) ID, a GUID. Any other value ("common",
// a domain name) gives a configuration that [accesstoken.NewMultiIssuer]
// refuses with a message that says so; for several tenants see
// [EntraTenants].
//
// References: https://learn.microsoft.com/entra/identity-platform/access-tokens,
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
func Entra(tenantID string, audience ...string) accesstoken.MultiIssuerConfig {
	tenantID = strings.ToLower(tenantID) // as Entra writes it in "iss"
	if !isGUID(tenantID) {
		bad := fmt.Sprintf("provider.Entra: tenant ID %q is not a GUID; use the Directory (tenant) ID, or provider.EntraTenants for several tenants", tenantID)
		return accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{{Issuer: bad, Audience: audience, JWKSURL: bad}}}
	}
	return accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{
		entraConfig(tenantID, true, audience),
		entraConfig(tenantID, false, audience),
	}}
}

// EntraTenants configures a validator for access tokens that Entra ID
// issues in any tenant that trusted accepts, for a multi-tenant API whose
// audience is one of audience.
//
// The first token of a tenant (v1.0 or v2.0 issuer form alike) asks
// trusted, with the request's context and the tenant's ID as "iss" names
// it; true trusts that issuer, as [Entra] would, from then on (see
// MultiIssuerConfig.Resolve and MaxIssuers). Tokens of other tenants, and
// any "iss" that is not one of Entra's two forms, are refused without a
// request of any kind. An error from trusted makes the token
// [accesstoken.ErrUnavailable]. A nil trusted trusts no tenant.
//
// Every rule of [Entra] holds, "tid" being checked against the tenant in
// "iss".
func EntraTenants(trusted func(ctx context.Context, tenantID string) (bool, error), audience ...string) accesstoken.MultiIssuerConfig {
	return accesstoken.MultiIssuerConfig{
		Resolve: func(ctx context.Context, issuer string) (*accesstoken.Config, error) {
			tid, v2, ok := entraTenant(issuer)
			if !ok || trusted == nil {
				return nil, nil
			}
			yes, err := trusted(ctx, tid)
			if err != nil || !yes {
				return nil, err
			}
			cfg := entraConfig(tid, v2, audience)
			return &cfg, nil
		},
	}
}

const (
	entraLogin = "https://login.microsoftonline.com/"
	entraSTS   = "https://sts.windows.net/"
)

func entraConfig(tid string, v2 bool, audience []string) accesstoken.Config {
	cfg := accesstoken.Config{
		Issuer:     entraSTS + tid + "/",
		JWKSURL:    entraLogin + tid + "/discovery/keys",
		Audience:   audience,
		RoleClaims: []string{"/roles"},
		Profile: &accesstoken.Profile{
			ClientIDClaims: []string{"/azp", "/appid"},
			RequiredClaims: map[string]string{"/tid": tid},
			RefusedHeaders: map[string]string{"nonce": "an Entra ID token for Microsoft Graph (its header has a nonce, " +
				"and only Graph can verify it); the client must request a token for this API's own scope"},
		},
	}
	if v2 {
		cfg.Issuer = entraLogin + tid + "/v2.0"
		cfg.JWKSURL = entraLogin + tid + "/discovery/v2.0/keys"
	}
	return cfg
}

// entraTenant reads the tenant of an Entra issuer in either form.
func entraTenant(issuer string) (tid string, v2, ok bool) {
	if rest, found := strings.CutPrefix(issuer, entraLogin); found {
		tid, found = strings.CutSuffix(rest, "/v2.0")
		return tid, true, found && isGUID(tid)
	}
	if rest, found := strings.CutPrefix(issuer, entraSTS); found {
		tid, found = strings.CutSuffix(rest, "/")
		return tid, false, found && isGUID(tid)
	}
	return "", false, false
}

// isGUID reports whether s is a GUID in lower-case 8-4-4-4-12 form, as
// Entra writes tenant IDs.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
