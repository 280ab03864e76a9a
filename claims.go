package accesstoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Claims are the checked claims of an access token: the registered JWT
// claims (RFC 7519 §4.1) and the RFC 9068 / RFC 8693 ones an API needs, from a
// verified JWT or from an RFC 7662 introspection answer. Use [Claims.Decode]
// for anything else.
type Claims struct {
	Issuer   string // "iss"
	Subject  string // "sub"
	ClientID string // "client_id" (RFC 9068 §2.2, RFC 8693 §4.3)
	ID       string // "jti"

	// SessionID is "sid", the user's session at the authorization server
	// (OpenID Connect Front-Channel Logout §3); "" when absent. Tokens of a
	// session end together: see [Revocations.RevokeSession].
	SessionID string

	// Audience is "aud", always as a list, whether the token held a string or
	// an array.
	Audience []string

	// Scopes is "scope" (space-delimited, RFC 8693 §4.2 and RFC 9068 §2.2.3)
	// or, when that is absent, "scp" (a string or array, as some issuers
	// write it): what the token carried, never the scopes it implies under
	// Profile.ScopeImplies (ask HasScope). Nil when the token carries
	// neither.
	Scopes []string

	ExpiresAt time.Time // "exp"; zero when absent
	IssuedAt  time.Time // "iat"; zero when absent
	NotBefore time.Time // "nbf"; zero when absent

	// ACR is "acr", the authentication context class the user logged in
	// with (OpenID Connect Core §2, RFC 9470); AMR is "amr", the methods
	// (RFC 8176 values such as "pwd", "mfa", "hwk"); AuthTime is
	// "auth_time", when the user logged in, zero when absent.
	ACR      string
	AMR      []string
	AuthTime time.Time

	// Roles are the roles, permissions or groups the claims named by
	// Config.RoleClaims carry, in pointer order without repeats. Nil when
	// they carry none.
	Roles []string

	// Introspected is true when an RFC 7662 introspection endpoint vouched
	// for the token, false when a JWT was verified locally.
	Introspected bool

	raw    []byte         // the JSON object the claims came from
	cnf    *confirmation  // "cnf" (RFC 7800): the key the token is bound to; nil for a bearer token
	via    uint8          // where the answer came from, for Validation.Cache
	scopes scopeHierarchy // Profile.ScopeImplies of the validator that returned them; nil: exact
}

// confirmation is what a token's "cnf" claim binds it to.
type confirmation struct {
	jkt     string // RFC 9449 §6: SHA-256 thumbprint of the DPoP key
	x5tS256 string // RFC 8705 §3.1: SHA-256 thumbprint of the client certificate
}

// HasScope reports whether the token was granted scope: it carries it, or,
// under the Profile.ScopeImplies of the validator that returned c, a scope
// that implies it.
func (c *Claims) HasScope(scope string) bool {
	if c == nil {
		return false
	}
	if c.scopes == nil {
		return slices.Contains(c.Scopes, scope)
	}
	return c.scopes.grants(c.Scopes, scope)
}

// Decode unmarshals the whole JWT payload, or the whole introspection
// response, into v with encoding/json, for claims that [Claims] does not
// carry. The JSON has already passed this package's strict checks (no
// duplicate member names, valid UTF-8). Note that encoding/json matches
// struct field names case-insensitively; tag fields with exact names.
func (c *Claims) Decode(v any) error {
	if c == nil || c.raw == nil {
		return errors.New("accesstoken: no claims to decode")
	}
	if err := json.Unmarshal(c.raw, v); err != nil {
		return fmt.Errorf("accesstoken: decoding claims: %w", err)
	}
	return nil
}

// RequireScopes returns nil when c holds every one of scopes, and otherwise
// an [*Error] matching [ErrInsufficientScope] whose Scope lists all of
// scopes, for the RFC 6750 §3 challenge. Nil claims give [ErrNoToken].
func RequireScopes(c *Claims, scopes ...string) error {
	if c == nil {
		return newError(ErrNoToken, "", nil)
	}
	for _, s := range scopes {
		if !c.HasScope(s) {
			e := newError(ErrInsufficientScope, descInsufficientScope, fmt.Errorf("scope %q missing", s))
			e.Scope = strings.Join(scopes, " ")
			return e
		}
	}
	return nil
}

type claimsKey struct{}

// NewContext returns a copy of ctx that carries c. Every adapter stores the
// claims of an accepted token this way.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims stored by [NewContext], if any.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// parsedClaims is Claims plus what the validator checks but does not hand
// out.
type parsedClaims struct {
	Claims
	hasAud       bool
	skipAudience bool // an introspection answer without "aud", accepted by configuration
}

var errScopeType = errors.New(`"scope" is not a string`)

// parseClaims reads the registered claims from a JSON object, exactly by
// name. A registered claim of the wrong type is an error, never ignored.
func parseClaims(raw []byte) (*parsedClaims, error) {
	var buf [16]jsonMember
	members, err := parseObjectInto(raw, buf[:0])
	if err != nil {
		return nil, err
	}
	pc := &parsedClaims{}
	c := &pc.Claims
	c.raw = raw
	var scope, scp []byte
	for _, m := range members {
		switch string(m.name) {
		case "iss":
			c.Issuer, err = jsonString(m.value)
		case "sub":
			c.Subject, err = jsonString(m.value)
		case "client_id":
			c.ClientID, err = jsonString(m.value)
		case "jti":
			c.ID, err = jsonString(m.value)
		case "sid":
			c.SessionID, err = jsonString(m.value)
		case "aud":
			pc.hasAud = true
			c.Audience, err = jsonStringOrStrings(m.value)
		case "exp":
			c.ExpiresAt, err = jsonNumericDate(m.value)
		case "iat":
			c.IssuedAt, err = jsonNumericDate(m.value)
		case "nbf":
			c.NotBefore, err = jsonNumericDate(m.value)
		case "scope":
			scope = m.value
		case "scp":
			scp = m.value
		case "cnf":
			c.cnf, err = parseConfirmation(m.value)
		case "acr":
			c.ACR, err = jsonString(m.value)
		case "amr":
			c.AMR, err = jsonStringOrStrings(m.value)
		case "auth_time":
			c.AuthTime, err = jsonNumericDate(m.value)
		}
		if err != nil {
			return nil, fmt.Errorf("claim %q: %w", m.name, err)
		}
	}
	switch {
	case scope != nil:
		s, err := jsonString(scope)
		if err != nil {
			return nil, errScopeType
		}
		c.Scopes = splitScope(s)
	case scp != nil:
		list, err := jsonStringOrStrings(scp)
		if err != nil {
			return nil, fmt.Errorf(`claim "scp": %w`, err)
		}
		for _, s := range list {
			c.Scopes = append(c.Scopes, splitScope(s)...)
		}
	}
	return pc, nil
}

// splitScope splits an RFC 6749 §3.3 scope string on spaces.
func splitScope(s string) []string {
	out := make([]string, 0, strings.Count(s, " ")+1)
	for part := range strings.SplitSeq(s, " ") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

var errCnfUnsupported = errors.New(`"cnf" binds the token in no way this package supports`)

// parseConfirmation reads a "cnf" object. Members other than "jkt" and
// "x5t#S256" are ignored; a cnf with neither is kept, empty, so that the
// token is refused (a binding we cannot check must not make it a bearer
// token).
func parseConfirmation(v []byte) (*confirmation, error) {
	members, err := parseObject(v)
	if err != nil {
		return nil, err
	}
	cnf := &confirmation{}
	for _, m := range members {
		switch string(m.name) {
		case "jkt":
			cnf.jkt, err = jsonString(m.value)
		case "x5t#S256":
			cnf.x5tS256, err = jsonString(m.value)
		}
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", m.name, err)
		}
	}
	return cnf, nil
}

// supported reports whether cnf binds the token in a way this package checks.
func (c *confirmation) supported() bool { return c.jkt != "" || c.x5tS256 != "" }

// refuseBound is the rule of Validate: a token bound to a key or certificate
// is not a bearer token, and needs ValidateRequest.
func refuseBound(c *Claims) *Error {
	if c.cnf != nil {
		return newError(ErrInvalidToken, descBound, errors.New(`token has a "cnf" claim; use ValidateRequest`))
	}
	return nil
}
