package accesstoken

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// This file is the profile step of the pipeline: the rules by which an
// authorization server's tokens depart from RFC 9068 (where the client and
// the audience are named, which claims must hold which values, header
// members that mark a token no resource server can verify) and a check of
// the API's own. Package provider fills a Profile for each platform it
// knows; the core has no platform-specific branch.

// Profile adapts a [Validator] to an authorization server whose tokens depart
// from RFC 9068, and lets an API add a check of its own. Every field is
// optional; the zero value changes nothing. Package provider returns a
// Config with the Profile of each platform it knows (Entra ID, Cognito,
// Google, Auth0, Okta, Keycloak).
type Profile struct {
	// ClientIDClaims are JSON Pointers (RFC 6901) to the claims that
	// Claims.ClientID is read from, in order: the first that holds a
	// non-empty string wins, and none leaves it empty. Examples: "/azp"
	// (OpenID Connect, Keycloak, Entra v2.0), "/appid" (Entra v1.0), "/cid"
	// (Okta). Nil means "/client_id" (RFC 9068 §2.2).
	ClientIDClaims []string

	// AudienceClaim is a JSON Pointer to the claim that must name one of
	// Config.Audience (a string, or an array of strings), checked in place of
	// "aud". Cognito's access tokens, for one, carry no "aud" and name their
	// app client in "/client_id". Empty means "/aud" (RFC 9068 §4).
	AudienceClaim string

	// RequiredClaims maps JSON Pointers to the string each claim must hold
	// exactly: {"/token_use": "access"} refuses Cognito ID tokens,
	// {"/tid": tenantID} tokens of another Entra tenant. A claim that is
	// absent or not a string refuses the token. Nil means none.
	RequiredClaims map[string]string

	// RefusedHeaders maps JOSE header parameter names to why a token whose
	// header has one is refused, for tokens that no resource server can
	// verify: Entra ID's tokens for Microsoft Graph carry "nonce" and their
	// signature covers a hash of it. They are checked before the signature,
	// so the reason, kept as the error's cause for logs, says what is wrong
	// rather than "signature invalid". Nil means none.
	RefusedHeaders map[string]string

	// SameOriginJWKS requires a discovered "jwks_uri" to have the issuer's
	// scheme, host and port, so that whoever can change the metadata
	// document alone cannot point the validator at other keys. A discovery
	// that breaks the rule fails, and the keys are unavailable. It does not
	// apply to Config.JWKSURL, which is trusted as configured. False means a
	// jwks_uri on any host.
	SameOriginJWKS bool

	// ScopeImplies maps a scope to the narrower scopes it grants, followed
	// transitively ({"repo:admin": {"repo:write"}, "repo:write":
	// {"repo:read"}}: a token with "repo:admin" holds all three; a cycle is
	// harmless), as MCP's authorization requires servers to honour scope
	// hierarchies (SEP-2350). Claims.HasScope, RequireScopes and every
	// adapter's scope rule apply it to the claims of this validator;
	// Claims.Scopes keeps what the token carried. A name that is not an RFC
	// 6749 §3.3 scope token is refused by NewValidator. Nil means exact
	// matching.
	ScopeImplies map[string][]string

	// Check, when set, runs last on every token that passed every other
	// check: verified JWTs, verified-token cache hits and introspection
	// answers alike, so it may depend on more than the token (a deny list,
	// a tenant's state). It must be safe for concurrent use. A nil return
	// accepts the token. An error that matches one of this package's
	// sentinels keeps its kind (return one wrapping [ErrUnavailable] when
	// the check could not be made, so that the client retries); any other
	// error refuses the token as [ErrInvalidToken]. The error's text is kept
	// as the cause, for logs, and never sent to the client.
	Check func(ctx context.Context, c *Claims) error

	// Set by the other packages of this module through internal/bridge:
	// a token format's own rules (package txntoken).
	issuerUnchecked bool                // "iss" is not compared with Config.Issuer
	claimsRule      func(*Claims) error // applied once per token, when it is verified
}

// profile is a Profile compiled for use on every validation.
type profile struct {
	clientID []jsonPointer // nil: Claims.ClientID is "client_id", as parsed
	audience jsonPointer   // nil: "aud"
	audName  string        // AudienceClaim as configured, for causes
	required []requiredClaim
	refused  map[string]string
	scopes   scopeHierarchy
	check    func(context.Context, *Claims) error
}

type requiredClaim struct {
	name  string // the pointer as configured, for causes
	ptr   jsonPointer
	value string
}

// compileProfile checks and compiles Config.Profile; nil gives nil.
func compileProfile(p *Profile) (*profile, error) {
	if p == nil {
		return nil, nil
	}
	out := &profile{check: p.Check, audName: p.AudienceClaim}
	for _, s := range p.ClientIDClaims {
		ptr, err := parsePointer(s)
		if err != nil {
			return nil, fmt.Errorf("accesstoken: Profile.ClientIDClaims: %w", err)
		}
		out.clientID = append(out.clientID, ptr)
	}
	if p.AudienceClaim != "" && p.AudienceClaim != "/aud" {
		ptr, err := parsePointer(p.AudienceClaim)
		if err != nil {
			return nil, fmt.Errorf("accesstoken: Profile.AudienceClaim: %w", err)
		}
		out.audience = ptr
	}
	for name, value := range p.RequiredClaims {
		ptr, err := parsePointer(name)
		if err != nil {
			return nil, fmt.Errorf("accesstoken: Profile.RequiredClaims: %w", err)
		}
		out.required = append(out.required, requiredClaim{name: name, ptr: ptr, value: value})
	}
	// Map order is random; a fixed order gives the same cause every time.
	slices.SortFunc(out.required, func(a, b requiredClaim) int { return strings.Compare(a.name, b.name) })
	for name := range p.RefusedHeaders {
		switch name {
		case "", "alg", "kid", "typ", "crit":
			return nil, fmt.Errorf("accesstoken: Profile.RefusedHeaders: %q cannot be refused", name)
		}
	}
	if len(p.RefusedHeaders) > 0 {
		out.refused = maps.Clone(p.RefusedHeaders) // the caller's map may change later
	}
	var err error
	if out.scopes, err = compileScopes(p.ScopeImplies); err != nil {
		return nil, err
	}
	return out, nil
}

// refusedHeader reports why a JOSE header member refuses the token, if it
// does.
func (p *profile) refusedHeader(name []byte) error {
	if p == nil || p.refused == nil {
		return nil
	}
	if why, ok := p.refused[string(name)]; ok {
		return newError(ErrInvalidToken, descHeader, fmt.Errorf("header parameter %q: %s", name, why))
	}
	return nil
}

// audienceOK applies Config.Audience to the claims, through
// AudienceClaim when the profile names one (read from members, the parsed
// claims object).
func (v *Validator) audienceOK(pc *parsedClaims, members []jsonMember) *Error {
	if pc.skipAudience {
		return nil
	}
	if v.profile == nil || v.profile.audience == nil {
		if v.audienceMatches(pc.Audience) {
			return nil
		}
		return newError(ErrInvalidToken, descAudience, fmt.Errorf("aud %s names none of the configured audiences", gotList(pc.Audience)))
	}
	raw := lookupMember(members, v.profile.audience)
	var aud []string
	if len(raw) > 0 {
		var err error
		if aud, err = jsonStringOrStrings(raw); err == nil && v.audienceMatches(aud) {
			return nil
		}
	}
	return newError(ErrInvalidToken, descAudience, fmt.Errorf("%s %s names none of the configured audiences", v.profile.audName, gotList(aud)))
}

// gotList shows what a token's audience named, for the log: at most four
// values, each truncated, so that a token cannot fill the log.
func gotList(list []string) string {
	if len(list) == 0 {
		return "(absent)"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range list {
		if i == 4 {
			fmt.Fprintf(&b, " …%d more", len(list)-4)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q", truncate(s))
	}
	b.WriteByte(']')
	return b.String()
}

// apply checks RequiredClaims and reads ClientIDClaims from members, the
// parsed claims object, after the issuer and audience rules passed.
func (p *profile) apply(pc *parsedClaims, members []jsonMember) *Error {
	if p == nil {
		return nil
	}
	for _, r := range p.required {
		raw := lookupMember(members, r.ptr)
		if len(raw) == 0 {
			return newError(ErrInvalidToken, descClaim, fmt.Errorf("claim %s is absent; want %q", r.name, r.value))
		}
		got, err := jsonString(raw)
		switch {
		case err != nil:
			return newError(ErrInvalidToken, descClaim, fmt.Errorf("claim %s is not a string; want %q", r.name, r.value))
		case got != r.value:
			return newError(ErrInvalidToken, descClaim, fmt.Errorf("claim %s is %q; want %q", r.name, truncate(got), r.value))
		}
	}
	if p.clientID != nil {
		pc.ClientID = ""
		for _, ptr := range p.clientID {
			if raw := lookupMember(members, ptr); len(raw) > 0 && raw[0] == '"' {
				if s, err := jsonString(raw); err == nil && s != "" {
					pc.ClientID = s
					break
				}
			}
		}
	}
	return nil
}

// runCheck is Profile.Check on claims that passed everything else.
func (p *profile) runCheck(ctx context.Context, c *Claims) *Error {
	if p == nil || p.check == nil {
		return nil
	}
	err := p.check(ctx, c)
	if err == nil {
		return nil
	}
	e := AsError(err)
	switch {
	case e.kind == nil: // an Error made outside this package
		return newError(ErrInvalidToken, descClaim, err)
	case e.kind == ErrInvalidToken && e.Description == descInvalid && e.Err == err:
		e.Description = descClaim // a plain error: say it was a claim
	}
	return e
}

// sameOriginURL reports whether u has the scheme, host and port of issuer.
func sameOriginURL(issuer, u string) bool {
	a, err1 := url.Parse(issuer)
	b, err2 := url.Parse(u)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

// portOf is u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}
