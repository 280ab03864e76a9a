package accesstoken

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file names the likely cause of a failed check, where a common one is
// recognisable: the mistakes users of every token library make, and the
// quirks of the platforms in package provider.

// skewWindow is how close a time claim must be to the clock for its
// failure to be called clock skew.
const skewWindow = 5 * time.Minute

func (ex *explainer) hint(name string) string {
	h := ex.x.Header
	switch name {
	case "format":
		return ex.formatHint()
	case "typ":
		if ex.looksLikeIDToken() {
			return idTokenHint
		}
		return fmt.Sprintf("Config.TokenTypes does not accept typ %s; if this issuer's access tokens carry it, add it", show(h, "typ"))
	case "alg":
		alg, _ := h["alg"].(string)
		switch {
		case strings.EqualFold(alg, "none"):
			return "an unsigned token (alg none) is never accepted"
		case strings.HasPrefix(alg, "HS"):
			return "an HMAC-signed token: it verifies only with the shared secret in Config.Keys and HS256/384/512 in Config.Algorithms"
		case strings.HasPrefix(alg, "ML-DSA-") && !pqSupported:
			return fmt.Sprintf("a post-quantum (ML-DSA, RFC 9964) token: this program was built with a Go older than 1.27, which cannot verify %s; rebuild it with Go 1.27 or newer and list the algorithm in Config.Algorithms", show(h, "alg"))
		case strings.HasPrefix(alg, "ML-DSA-"):
			return fmt.Sprintf("a post-quantum (ML-DSA, RFC 9964) token: ML-DSA is not in the default list; add %s to Config.Algorithms (accesstoken check: --algorithms)", show(h, "alg"))
		}
		return fmt.Sprintf("Config.Algorithms does not allow %s; add it if the issuer signs its access tokens with it", show(h, "alg"))
	case "kid":
		return ex.keyHint()
	case "signature":
		if _, ok := h["nonce"]; ok {
			return graphHint
		}
		return "the token was altered, or signed by another issuer's key under the same kid"
	case "iss":
		return ex.issuerHint()
	case "aud":
		return ex.audienceHint()
	case "exp", "nbf", "iat":
		return ex.timeHint(name)
	case "binding":
		return "the token is bound to a key (cnf): send it with its DPoP proof or over mutual TLS, and validate it with ValidateRequest (the adapters do)"
	case "active":
		if ex.unavailable() {
			return "the introspection endpoint could not be asked: check its URL, this API's client credentials and the network"
		}
		return "the authorization server says the token is not active: it expired, was revoked, or was issued by another server"
	case "revoked":
		if ex.unavailable() {
			return "the revocation list's store did not answer; the token is refused until it does (or set RevocationFailOpen)"
		}
		return "the token (its jti, or its subject before a time) is on the revocation list"
	case "platform":
		return ex.platformHint()
	}
	return ""
}

const (
	idTokenHint = "this looks like an ID token (it has nonce, at_hash or a typ of ID), which proves a login to the client; " +
		"send the access token the same response carried"
	graphHint = "a token Entra ID issued for Microsoft Graph (its header has a nonce): only Graph can verify it; " +
		"the client must ask for a token with this API's own scope, such as api://<client-id>/.default"
	googleOpaqueHint = "an opaque Google access token (ya29.): it is not a JWT and only Google's tokeninfo can check it; " +
		"use provider.GoogleAccessTokens, or have the client send a Google ID token (provider.Google)"
)

func (ex *explainer) formatHint() string {
	switch ex.kind {
	case "":
		return "the request carried no token"
	case "JWE":
		if ex.v != nil && ex.v.decrypter != nil {
			return "an encrypted token (JWE) this validator could not open: " + truncateLong(causeText(ex.e)) +
				"; check that the issuer encrypts to one of Config.Decryption's keys (its kid) with an accepted alg and enc"
		}
		return "an encrypted token (JWE): this validator holds no decryption key for it; set Config.Decryption with the API's key, or have the issuer sign without encrypting"
	case "opaque":
		if strings.HasPrefix(ex.token, "ya29.") {
			return googleOpaqueHint
		}
		if ex.v == nil || ex.v.intro == nil {
			return "an opaque token: set Config.Introspection to have the authorization server check it, or have it issue JWT access tokens"
		}
	}
	if ex.x.Header == nil {
		return "the token is not a well-formed JWT: check that it was copied whole, without quotes, spaces or a \"Bearer \" prefix"
	}
	if _, crit := ex.x.Header["crit"]; crit {
		return "the header lists critical extensions (crit) that this validator does not understand"
	}
	return ""
}

func (ex *explainer) looksLikeIDToken() bool {
	c := ex.x.Claims
	_, nonce := c["nonce"]
	_, atHash := c["at_hash"]
	typ, _ := c["typ"].(string)
	use, _ := c["token_use"].(string)
	return nonce || atHash || strings.EqualFold(typ, "ID") || use == "id"
}

func (ex *explainer) keyHint() string {
	if ex.failed != "kid" {
		return ""
	}
	if ex.unavailable() {
		cause := causeText(ex.e)
		return "the issuer's keys could not be fetched (" + truncateLong(cause) + "); the token can be judged once they are"
	}
	iss, _ := ex.x.Claims["iss"].(string)
	if oktaOrg(iss) {
		return oktaOrgHint(iss)
	}
	if iss != "" && !slices.Contains(ex.issuers, iss) {
		return fmt.Sprintf("the issuer's key set has no key %s, and the token names issuer %q: it comes from another issuer, tenant or environment",
			show(ex.x.Header, "kid"), iss)
	}
	return fmt.Sprintf("the issuer's key set has no key %s: the issuer rotated its keys (a token signed before the set changed, or a key not yet "+
		"published), or the token comes from another tenant or environment of the same issuer", show(ex.x.Header, "kid"))
}

// oktaOrg reports whether iss is an Okta org authorization server's issuer.
func oktaOrg(iss string) bool {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" {
		return false
	}
	okta := strings.HasSuffix(u.Host, ".okta.com") || strings.HasSuffix(u.Host, ".oktapreview.com") || strings.HasSuffix(u.Host, ".okta-emea.com")
	return okta && (u.Path == "" || u.Path == "/")
}

func oktaOrgHint(iss string) string {
	return fmt.Sprintf("a token of Okta's org authorization server (%s): it is meant for Okta's own APIs and only Okta can validate it; "+
		"have the client get its token from a custom authorization server (%s/oauth2/default, say)", iss, strings.TrimSuffix(iss, "/"))
}

func (ex *explainer) issuerHint() string {
	got, _ := ex.x.Claims["iss"].(string)
	if ex.unavailable() {
		cause := causeText(ex.e)
		if meta, want, ok := metadataMismatch(cause); ok {
			return "discovery failed: the issuer's metadata names issuer " + fmt.Sprintf("%q", meta) + ", not the configured " +
				fmt.Sprintf("%q", want) + differsBy(meta, want) + "; set Config.Issuer to exactly what the issuer writes"
		}
		return "the issuer could not be resolved: " + truncateLong(cause)
	}
	for _, want := range ex.issuers {
		if d := differsBy(got, want); d != "" {
			return fmt.Sprintf("the token's issuer %q and the configured %q differ%s; set Config.Issuer to exactly what the issuer writes", got, want, d)
		}
	}
	for _, want := range ex.issuers {
		gv, wv := entraVersion(got), entraVersion(want)
		if gv != "" && wv != "" && gv != wv {
			return fmt.Sprintf("an Entra ID %s token where %s tokens are configured: the API's app manifest decides the version "+
				"(requestedAccessTokenVersion, formerly accessTokenAcceptedVersion); accept both with provider.Entra", gv, wv)
		}
	}
	if oktaOrg(got) {
		return oktaOrgHint(got)
	}
	if got == "" {
		return "the token has no iss claim"
	}
	return "the token comes from another issuer (or another tenant, realm or environment of it)"
}

// metadataMismatch reads the discovery error "metadata names issuer X, want Y".
func metadataMismatch(cause string) (meta, want string, ok bool) {
	i := strings.Index(cause, "metadata names issuer ")
	if i < 0 {
		return "", "", false
	}
	var m, w string
	if _, err := fmt.Sscanf(cause[i:], "metadata names issuer %q, want %q", &m, &w); err != nil {
		return "", "", false
	}
	return m, w, true
}

// differsBy names a difference of only a trailing slash, scheme or case.
func differsBy(a, b string) string {
	switch {
	case a == b:
		return ""
	case strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/"):
		return " only by a trailing slash"
	case strings.TrimPrefix(strings.TrimPrefix(a, "https://"), "http://") == strings.TrimPrefix(strings.TrimPrefix(b, "https://"), "http://"):
		return " only by scheme"
	case strings.EqualFold(a, b):
		return " only by case"
	}
	return ""
}

// entraVersion tells v1.0 and v2.0 Entra issuers apart.
func entraVersion(iss string) string {
	switch {
	case strings.HasPrefix(iss, "https://sts.windows.net/"):
		return "v1.0"
	case strings.HasPrefix(iss, "https://login.microsoftonline.com/") && strings.HasSuffix(iss, "/v2.0"):
		return "v2.0"
	}
	return ""
}

func (ex *explainer) audienceHint() string {
	c := ex.x.Claims
	var aud []string
	switch a := c["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				aud = append(aud, s)
			}
		}
	}
	want := ex.audience()
	switch {
	case ex.v != nil && ex.v.profile != nil && ex.v.profile.audience != nil && ex.looksLikeIDToken():
		return idTokenHint
	case len(aud) == 1 && aud[0] == "account":
		return "Keycloak names only \"account\" until the realm adds this API's client to the audience: add an audience mapper " +
			"(Client scopes → dedicated scope → Add mapper → Audience) naming " + quoteList(want)
	case ex.looksLikeIDToken():
		return idTokenHint
	}
	for _, a := range aud {
		for _, w := range want {
			if strings.TrimPrefix(a, "api://") == strings.TrimPrefix(w, "api://") {
				return fmt.Sprintf("the token names %q and the configuration %q: Entra ID writes the App ID URI in v1.0 tokens "+
					"and the client ID in v2.0 ones; list both in Config.Audience", a, w)
			}
		}
		if strings.HasSuffix(a, "/userinfo") && len(aud) == 1 {
			return "a token for the userinfo endpoint only: the client asked without an audience; Auth0 needs audience=" +
				firstOr(want, "<your API identifier>") + " in the authorization request"
		}
	}
	if len(aud) == 0 && ex.v != nil && (ex.v.profile == nil || ex.v.profile.audience == nil) {
		return "the token has no aud: if the issuer leaves it out (Cognito access tokens do), use its provider configuration"
	}
	return "the token was issued for another API: the client must ask for this API's audience (the resource or audience parameter, or the API's scope)"
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

func (ex *explainer) timeHint(name string) string {
	t, ok := claimTime(ex.x.Claims, name)
	if !ok {
		return "the token has no " + name + " claim, which access tokens must carry"
	}
	now := time.Now()
	if ex.v != nil {
		now = ex.v.now()
	}
	off := t.Sub(now)
	if off < 0 {
		off = -off
	}
	if off <= skewWindow {
		return fmt.Sprintf("%s is %s from this machine's clock: likely clock skew between it and the issuer; "+
			"check NTP, or allow it with Config.Leeway (say %s)", name, off.Round(time.Second), leewayFor(off))
	}
	if name == "exp" {
		return "the token expired: the client must get a new one (or refresh it)"
	}
	return "the token is not valid yet by a wide margin: check the issuer's clock and this machine's"
}

func leewayFor(off time.Duration) time.Duration {
	for _, l := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute} {
		if off <= l {
			return l
		}
	}
	return skewWindow
}

func (ex *explainer) platformHint() string {
	if ex.refusedHeader() != "" {
		if _, ok := ex.x.Header["nonce"]; ok {
			return graphHint
		}
		return "the header has " + ex.refusedHeader() + ", which this issuer's profile refuses"
	}
	if ex.unavailable() {
		return "Profile.Check could not be made: see the cause"
	}
	c := ex.x.Claims
	if use, _ := c["token_use"].(string); use == "id" {
		return "a Cognito ID token where an access token belongs: send the access token (token_use access)"
	}
	if ex.v != nil && ex.v.profile != nil {
		for _, r := range ex.v.profile.required {
			if r.name == "/tid" && show(c, "tid") != showValue(r.value) {
				return "a token of another Entra ID tenant (tid " + show(c, "tid") + "); for several tenants use provider.EntraTenants"
			}
		}
	}
	if strings.Contains(causeText(ex.e), "claim /") {
		return "a claim the issuer's profile pins holds another value: see the cause"
	}
	return "Profile.Check refused the token: see the cause"
}

func truncateLong(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
