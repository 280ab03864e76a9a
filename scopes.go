package accesstoken

import (
	"fmt"
	"slices"
)

// This file is the scope hierarchy of Profile.ScopeImplies (MCP 2026-07-28,
// SEP-2350: "a broader scope implies narrower ones"): compiled once per
// validator into the transitive closure, and consulted by Claims.HasScope.
// Claims.Scopes keeps what the token carried.

// scopeHierarchy maps a scope to every scope it grants, directly or
// through others. It is never modified after compileScopes returns, so the
// claims of many requests share it.
type scopeHierarchy map[string][]string

// compileScopes checks Profile.ScopeImplies and closes it transitively; a
// cycle is harmless (each scope of it grants the others). Nil or empty
// gives nil: exact matching.
func compileScopes(implies map[string][]string) (scopeHierarchy, error) {
	if len(implies) == 0 {
		return nil, nil
	}
	for broad, narrow := range implies {
		if !scopeToken(broad) {
			return nil, fmt.Errorf("accesstoken: Profile.ScopeImplies: %q is not a scope (RFC 6749 §3.3: printable ASCII, no space, quote or backslash)", broad)
		}
		for _, n := range narrow {
			if !scopeToken(n) {
				return nil, fmt.Errorf("accesstoken: Profile.ScopeImplies[%q]: %q is not a scope (RFC 6749 §3.3)", broad, n)
			}
		}
	}
	out := make(scopeHierarchy, len(implies))
	for broad := range implies {
		seen := map[string]bool{broad: true}
		queue := slices.Clone(implies[broad])
		var granted []string
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			if seen[s] {
				continue
			}
			seen[s] = true
			granted = append(granted, s)
			queue = append(queue, implies[s]...)
		}
		slices.Sort(granted)
		out[broad] = granted
	}
	return out, nil
}

// grants reports whether one of held is scope or grants it.
func (h scopeHierarchy) grants(held []string, scope string) bool {
	if slices.Contains(held, scope) {
		return true
	}
	for _, s := range held {
		if _, ok := slices.BinarySearch(h[s], scope); ok {
			return true
		}
	}
	return false
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
