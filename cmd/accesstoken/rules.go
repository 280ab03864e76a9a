package main

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/extauthz"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// rules are serve's settings that only the YAML file gives, being
// structured: operation_scopes, path_scopes and claim_headers.
type rules struct {
	operations []operationScope
	paths      []pathScope
	claims     []claimHeader
}

type operationScope struct {
	method, name string
	scopes       []string
}

type pathScope struct {
	prefix string
	scopes []string
}

type claimHeader struct{ header, pointer string }

// yamlOnly are the keys of the --config file that no flag or variable has.
var yamlOnly = map[string]func(*rules, any) error{
	"operation_scopes": (*rules).setOperations,
	"path_scopes":      (*rules).setPaths,
	"claim_headers":    (*rules).setClaims,
}

// operation_scopes: a list of {method, name, scopes}; name may be absent
// (every request of the method) or an RFC 6570 level-1 template.
func (r *rules) setOperations(v any) error {
	list, ok := v.([]any)
	if !ok {
		return errors.New("takes a list of {method, name, scopes}")
	}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("item %d: takes {method, name, scopes}", i+1)
		}
		var op operationScope
		for k, val := range m {
			var err error
			switch k {
			case "method":
				op.method, err = text(val)
			case "name":
				op.name, err = text(val)
			case "scopes":
				op.scopes, err = scopeList(val)
			default:
				err = fmt.Errorf("no such key %q (method, name, scopes)", k)
			}
			if err != nil {
				return fmt.Errorf("item %d: %v", i+1, err)
			}
		}
		switch {
		case op.method == "":
			return fmt.Errorf("item %d: no method", i+1)
		case len(op.scopes) == 0:
			return fmt.Errorf("item %d: no scopes", i+1)
		case !balanced(op.name):
			return fmt.Errorf("item %d: name %q has an unclosed \"{\"", i+1, op.name)
		}
		r.operations = append(r.operations, op)
	}
	return nil
}

// balanced reports whether every "{" of a template closes before the next.
func balanced(t string) bool {
	open := false
	for _, c := range t {
		switch c {
		case '{':
			if open {
				return false
			}
			open = true
		case '}':
			open = false
		}
	}
	return !open
}

// path_scopes: a map of path prefix to scopes.
func (r *rules) setPaths(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("takes a map of path prefix to scopes")
	}
	for prefix, val := range m {
		if !strings.HasPrefix(prefix, "/") {
			return fmt.Errorf("%q: a path prefix starts with \"/\"", prefix)
		}
		scopes, err := scopeList(val)
		if err != nil || len(scopes) == 0 {
			return fmt.Errorf("%q: takes a list of scopes", prefix)
		}
		r.paths = append(r.paths, pathScope{prefix, scopes})
	}
	sort.Slice(r.paths, func(i, j int) bool { return r.paths[i].prefix < r.paths[j].prefix })
	return nil
}

// claim_headers: a map of header name to claim (a JSON Pointer).
func (r *rules) setClaims(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("takes a map of header name to JSON Pointer")
	}
	for header, val := range m {
		pointer, err := text(val)
		if err != nil {
			return fmt.Errorf("%s: %v", header, err)
		}
		if !headerName(header) {
			return fmt.Errorf("%q is not a header name", header)
		}
		switch http.CanonicalHeaderKey(header) {
		case httpauth.HeaderSubject, httpauth.HeaderClientID, httpauth.HeaderScopes, httpauth.HeaderRoles, httpauth.HeaderIssuer, "Authorization":
			return fmt.Errorf("%s is set by serve itself", header)
		}
		if _, err := bearer.ParseClaimPointer(pointer); err != nil {
			return fmt.Errorf("%s: %v", header, err)
		}
		r.claims = append(r.claims, claimHeader{header, pointer})
	}
	sort.Slice(r.claims, func(i, j int) bool { return r.claims[i].header < r.claims[j].header })
	return nil
}

func headerName(s string) bool {
	for _, c := range s {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

func text(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", v)
	}
	return s, nil
}

// scopeList reads a list of scopes, or one space-separated string of them.
func scopeList(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return strings.Fields(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok || strings.ContainsAny(s, " \t\"\\") || s == "" {
				return nil, fmt.Errorf("%v is not a scope", item)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("takes a list of scopes")
}

func (r *rules) httpOptions() []httpauth.Option {
	var opts []httpauth.Option
	for _, op := range r.operations {
		opts = append(opts, httpauth.WithOperationScopes(op.method, op.name, op.scopes...))
	}
	for _, p := range r.paths {
		opts = append(opts, httpauth.WithPathScopes(p.prefix, p.scopes...))
	}
	for _, c := range r.claims {
		opts = append(opts, httpauth.WithClaimHeader(c.header, c.pointer))
	}
	return opts
}

func (r *rules) extauthzOptions() []extauthz.Option {
	var opts []extauthz.Option
	for _, op := range r.operations {
		opts = append(opts, extauthz.WithOperationScopes(op.method, op.name, op.scopes...))
	}
	for _, p := range r.paths {
		opts = append(opts, extauthz.WithPathScopes(p.prefix, p.scopes...))
	}
	for _, c := range r.claims {
		opts = append(opts, extauthz.WithClaimHeader(c.header, c.pointer))
	}
	return opts
}
