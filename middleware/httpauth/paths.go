package httpauth

import (
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
)

// WithPathScopes requires scopes, beside [WithRequiredScopes], for requests
// whose path is prefix or lies under it (prefix followed by "/"); several
// prefixes may match, and each adds its scopes. The path is compared
// decoded and cleaned ("/public/../admin" and "/%61dmin" are "/admin"), as
// routers and gateways route it.
//
// [Middleware] judges the request's own path. [ForwardAuth] judges the
// original request's, from the X-Forwarded-Uri or X-Original-URI header of
// a peer in [WithTrustedProxies]; when it cannot know it (another peer, no
// such header), the request needs the scopes of every path rule, so that a
// missing header never lowers what is required.
func WithPathScopes(prefix string, scopes ...string) Option {
	prefix = cleanPath(prefix)
	return optionFunc(func(c *config) { c.paths = append(c.paths, pathRule{prefix, scopes}) })
}

type pathRule struct {
	prefix string
	scopes []string
}

// cleanPath is p decoded already, rooted and cleaned.
func cleanPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// withPaths adds to global the scopes of every path rule p falls under, or
// of every rule when known is false; it returns global itself when no rule
// adds to it.
func (c *config) withPaths(global []string, p string, known bool) []string {
	if len(c.paths) == 0 {
		return global
	}
	out := global
	if known {
		p = cleanPath(p)
	}
	for _, r := range c.paths {
		if known && p != r.prefix && !strings.HasPrefix(p, strings.TrimSuffix(r.prefix, "/")+"/") {
			continue
		}
		for _, s := range r.scopes {
			if !slices.Contains(out, s) {
				out = append(out[:len(out):len(out)], s)
			}
		}
	}
	return out
}

// forwardedPath is the path of the request a gateway's subrequest stands
// for: from X-Forwarded-Uri or X-Original-URI, sent by a trusted proxy.
func (c *config) forwardedPath(r *http.Request) (string, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	trusted := false
	for _, p := range c.read.TrustedProxies {
		if p.Contains(ap.Addr().Unmap()) {
			trusted = true
			break
		}
	}
	if !trusted {
		return "", false
	}
	for _, name := range [...]string{"X-Forwarded-Uri", "X-Original-URI"} {
		if vs := r.Header.Values(name); len(vs) == 1 && strings.HasPrefix(vs[0], "/") {
			u, err := url.ParseRequestURI(vs[0])
			if err != nil {
				return "", false
			}
			return u.Path, true
		} else if len(vs) > 1 {
			return "", false
		}
	}
	return "", false
}
