package accesstoken

import (
	"fmt"
	"slices"

	"github.com/tokenguard/accesstoken/internal/jsonpointer"
)

// This file gathers a token's roles from the claims that Config.RoleClaims
// points at (JSON Pointers, RFC 6901), so that Entra's "roles", Auth0's
// "permissions" or namespaced claims, Keycloak's "realm_access.roles" and
// "resource_access.<client>.roles", Okta's "groups" and Cognito's
// "cognito:groups" all read the same way.

// defaultRoleClaims is what a nil Config.RoleClaims means: Entra ID, Auth0
// RBAC and Keycloak realm roles.
var defaultRoleClaims = []string{"/roles", "/permissions", "/realm_access/roles"}

const maxRoles = 256 // roles read from one claim; a longer array is not read

// jsonPointer is a parsed JSON Pointer: its reference tokens, unescaped.
type jsonPointer []string

// parsePointer parses an RFC 6901 JSON Pointer (see internal/jsonpointer).
func parsePointer(p string) (jsonPointer, error) {
	toks, err := jsonpointer.Parse(p)
	return jsonPointer(toks), err
}

// parseRoleClaims resolves Config.RoleClaims.
func parseRoleClaims(pointers []string) ([]jsonPointer, error) {
	if pointers == nil {
		pointers = defaultRoleClaims
	}
	out := make([]jsonPointer, 0, len(pointers))
	for _, p := range pointers {
		jp, err := parsePointer(p)
		if err != nil {
			return nil, fmt.Errorf("accesstoken: Config.RoleClaims: %w", err)
		}
		out = append(out, jp)
	}
	return out, nil
}

// gatherRoles reads the roles of a claims object, given as its parsed
// members: the union, in pointer order and without repeats, of what each
// pointer finds. A string is one role (never split); an array gives its
// string members; anything else, and non-string members, is ignored. It
// allocates only when it finds a role.
func gatherRoles(members []jsonMember, pointers []jsonPointer) []string {
	var roles []string
	for _, p := range pointers {
		v := lookupMember(members, p)
		if len(v) == 0 {
			continue
		}
		switch v[0] {
		case '"':
			if s, err := jsonString(v); err == nil && s != "" && !slices.Contains(roles, s) {
				roles = append(roles, s)
			}
		case '[':
			items, err := jsonArray(v, maxRoles)
			if err != nil {
				continue
			}
			for _, item := range items {
				if len(item) == 0 || item[0] != '"' {
					continue
				}
				if s, err := jsonString(item); err == nil && s != "" && !slices.Contains(roles, s) {
					roles = append(roles, s)
				}
			}
		}
	}
	return roles
}

// lookupMember is lookupPointer on an object already parsed into members
// (a strict parse, so no name appears twice), so that the claims object is
// parsed once for all the pointers a validation reads.
func lookupMember(members []jsonMember, p jsonPointer) []byte {
	if len(p) == 0 {
		return nil
	}
	for _, m := range members {
		if string(m.name) == p[0] {
			return lookupPointer(m.value, p[1:])
		}
	}
	return nil
}

// lookupPointer returns the raw JSON value p points at in doc, or nil.
// Objects are walked by member name; arrays by index (RFC 6901 §4: decimal
// digits, no leading zeros).
func lookupPointer(doc []byte, p jsonPointer) []byte {
	cur := doc
	for _, tok := range p {
		cur = trimSpace(cur)
		if len(cur) == 0 {
			return nil
		}
		switch cur[0] {
		case '{':
			var buf [16]jsonMember
			members, err := parseObjectInto(cur, buf[:0])
			if err != nil {
				return nil
			}
			var next []byte
			for _, m := range members {
				if string(m.name) == tok {
					next = m.value
				}
			}
			if next == nil {
				return nil
			}
			cur = next
		case '[':
			i, ok := jsonpointer.Index(tok)
			if !ok {
				return nil
			}
			items, err := jsonArray(cur, maxRoles)
			if err != nil || i >= len(items) {
				return nil
			}
			cur = items[i]
		default:
			return nil
		}
	}
	return trimSpace(cur)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// HasRole reports whether the token carries role (see Config.RoleClaims).
func (c *Claims) HasRole(role string) bool {
	return c != nil && slices.Contains(c.Roles, role)
}

// RequireRoles returns nil when c holds every one of roles, and otherwise an
// [*Error] matching [ErrInsufficientScope]: 403 insufficient_scope, without
// a scope attribute (roles are not scopes a client can ask for). Nil claims
// give [ErrNoToken].
func RequireRoles(c *Claims, roles ...string) error {
	if c == nil {
		return newError(ErrNoToken, "", nil)
	}
	for _, r := range roles {
		if !c.HasRole(r) {
			return newError(ErrInsufficientScope, descInsufficientRole, fmt.Errorf("role %q missing", truncate(r)))
		}
	}
	return nil
}
