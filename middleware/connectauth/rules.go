package connectauth

// This file holds the per-procedure rules, the HTTP middleware that applies
// them, and the mapping of this library's errors to RPC codes. connectauth
// (connect-go v1) and connect2auth (v2) each keep their own copy: a module
// never reaches into another's internal packages, and neither adapter may
// bring the other's connect-go into its users' module graph.

import (
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
)

// rule is what one procedure, or every procedure of a service, requires.
type rule struct {
	Public         bool // no token is asked for, and none is checked
	Scopes         []string
	Roles          []string
	Authentication *accesstoken.AuthenticationRequirement
}

// config is an adapter's settings.
type config struct {
	Realm            string
	ResourceMetadata string
	Read             bearer.Reader
	// Rules by procedure ("/pkg.Service/Method") or service
	// ("/pkg.Service/"); a procedure's own rule is merged over its
	// service's.
	Rules map[string]*rule
	// NoStreamGuard: WithoutStreamGuard (else bearer.GuardRPC guards streams).
	NoStreamGuard bool
}

// rule returns the rule for key, creating it.
func (c *config) rule(key string) *rule {
	if c.Rules == nil {
		c.Rules = map[string]*rule{}
	}
	r := c.Rules[key]
	if r == nil {
		r = &rule{}
		c.Rules[key] = r
	}
	return r
}

// checkKey panics unless key names a procedure or a service, for the
// adapters' With... options (a typo would silently protect nothing).
func checkKey(option, key string) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	if !strings.HasPrefix(key, "/") || !ok || svc == "" || strings.Contains(method, "/") {
		panic(option + `: "` + key + `" is neither "/pkg.Service/Method" nor "/pkg.Service/"`)
	}
}

// procedure is the RPC procedure a request's path names: its last two
// segments, so that a service mounted under a prefix is found too.
func procedure(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return path
	}
	j := strings.LastIndexByte(path[:i], '/')
	if j < 0 {
		return path
	}
	return path[j:]
}

// rules returns the service's and the procedure's rules (either may be nil).
func (c *config) rules(proc string) (service, own *rule) {
	if len(c.Rules) == 0 {
		return nil, nil
	}
	i := strings.LastIndexByte(proc, '/')
	return c.Rules[proc[:i+1]], c.Rules[proc]
}

// writer writes a rejection in the protocol the request used.
type writer func(w http.ResponseWriter, r *http.Request, e *accesstoken.Error)

// middleware validates every request's token with v (DPoP proofs and client
// certificates through accesstoken.RequestValidator), applies the
// procedure's rule, and puts the claims in the request context. A public
// procedure passes untouched. Rejections go to write, with
// WWW-Authenticate and DPoP-Nonce already set as response headers.
func middleware(v accesstoken.TokenValidator, cfg *config, write writer) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			service, own := cfg.rules(procedure(r.URL.Path))
			if own != nil && own.Public || own == nil && service != nil && service.Public {
				next.ServeHTTP(w, r)
				return
			}
			ctx, err := cfg.Read.Authenticate(r.Context(), r, v)
			if err == nil {
				claims, _ := accesstoken.FromContext(ctx)
				err = check(claims, service, own)
			}
			if err != nil {
				fail(w, r, cfg, err, write)
				return
			}
			if n := bearer.DPoPNonce(v); n != "" {
				w.Header().Set("DPoP-Nonce", n)
			}
			if cfg.NoStreamGuard {
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			bearer.GuardRPC(w, r.WithContext(ctx), v, cfg.Realm, cfg.ResourceMetadata, next)
		})
	}
}

// check applies a service's and a procedure's rules together: every scope
// and role of both (so that a refusal's scope attribute names all the
// procedure needs), and the procedure's authentication requirement, else
// its service's. claims may be nil (credentials optional, none sent), which
// any requirement refuses.
func check(claims *accesstoken.Claims, service, own *rule) error {
	var scopes, roles []string
	var authn *accesstoken.AuthenticationRequirement
	for _, r := range []*rule{service, own} {
		if r == nil {
			continue
		}
		scopes = append(scopes, r.Scopes...)
		roles = append(roles, r.Roles...)
		if r.Authentication != nil {
			authn = r.Authentication
		}
	}
	if len(scopes) > 0 {
		if err := accesstoken.RequireScopes(claims, scopes...); err != nil {
			return err
		}
	}
	if len(roles) > 0 {
		if err := accesstoken.RequireRoles(claims, roles...); err != nil {
			return err
		}
	}
	if authn != nil {
		return accesstoken.RequireAuthentication(claims, *authn)
	}
	return nil
}

func fail(w http.ResponseWriter, r *http.Request, cfg *config, err error, write writer) {
	e := bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.ResourceMetadata)
	bearer.SetRefusalHeaders(w.Header(), e, cfg.Realm)
	write(w, r, e)
}

// code is the gRPC (and Connect) status code of an HTTP status of the error
// table: InvalidArgument (3) for 400, PermissionDenied (7) for 403,
// Unavailable (14) for 503, Unauthenticated (16) for 401.
func code(status int) uint32 {
	switch status {
	case http.StatusBadRequest:
		return 3
	case http.StatusForbidden:
		return 7
	case http.StatusServiceUnavailable:
		return 14
	}
	return 16
}

// message is the error message a client gets: the fixed description, or
// the status text.
func message(e *accesstoken.Error) string {
	if e.Description != "" {
		return e.Description
	}
	return http.StatusText(e.StatusCode())
}

// plainHTTP writes a rejection of a request that is not an RPC, as
// httpauth does.
func plainHTTP(w http.ResponseWriter, e *accesstoken.Error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.StatusCode())
	w.Write([]byte(http.StatusText(e.StatusCode()) + "\n"))
}
