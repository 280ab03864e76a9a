// Package rpcauth is what the Connect adapters (connectauth for connect-go
// v1, connect2auth for v2) share: per-procedure rules, the HTTP middleware
// that applies them, and the mapping of this library's errors to RPC
// codes. Each adapter only supplies the writer of errors in its
// connect-go's wire protocols.
package rpcauth

import (
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/bearer"
)

// Rule is what one procedure, or every procedure of a service, requires.
type Rule struct {
	Public         bool // no token is asked for, and none is checked
	Scopes         []string
	Roles          []string
	Authentication *accesstoken.AuthenticationRequirement
}

// Config is an adapter's settings.
type Config struct {
	Realm            string
	ResourceMetadata string
	Read             bearer.Options
	// Rules by procedure ("/pkg.Service/Method") or service
	// ("/pkg.Service/"); a procedure's own rule is merged over its
	// service's.
	Rules map[string]*Rule
}

// Rule returns the rule for key, creating it.
func (c *Config) Rule(key string) *Rule {
	if c.Rules == nil {
		c.Rules = map[string]*Rule{}
	}
	r := c.Rules[key]
	if r == nil {
		r = &Rule{}
		c.Rules[key] = r
	}
	return r
}

// CheckKey panics unless key names a procedure or a service, for the
// adapters' With... options (a typo would silently protect nothing).
func CheckKey(option, key string) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	if !strings.HasPrefix(key, "/") || !ok || svc == "" || strings.Contains(method, "/") {
		panic(option + `: "` + key + `" is neither "/pkg.Service/Method" nor "/pkg.Service/"`)
	}
}

// Procedure is the RPC procedure a request's path names: its last two
// segments, so that a service mounted under a prefix is found too.
func Procedure(path string) string {
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
func (c *Config) rules(procedure string) (service, own *Rule) {
	if len(c.Rules) == 0 {
		return nil, nil
	}
	i := strings.LastIndexByte(procedure, '/')
	return c.Rules[procedure[:i+1]], c.Rules[procedure]
}

// Writer writes a rejection in the protocol the request used.
type Writer func(w http.ResponseWriter, r *http.Request, e *accesstoken.Error)

// Middleware validates every request's token with v (DPoP proofs and client
// certificates through accesstoken.RequestValidator), applies the
// procedure's rule, and puts the claims in the request context. A public
// procedure passes untouched. Rejections go to write, with
// WWW-Authenticate and DPoP-Nonce already set as response headers.
func Middleware(v accesstoken.TokenValidator, cfg *Config, write Writer) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			service, own := cfg.rules(Procedure(r.URL.Path))
			if own != nil && own.Public || own == nil && service != nil && service.Public {
				next.ServeHTTP(w, r)
				return
			}
			ctx, err := bearer.Authenticate(r.Context(), r, v, &cfg.Read)
			if err == nil {
				claims, _ := accesstoken.FromContext(ctx)
				err = check(claims, service, own)
			}
			if err != nil {
				fail(w, r, cfg, err, write)
				return
			}
			if n := bearer.Nonce(v); n != "" {
				w.Header().Set("DPoP-Nonce", n)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// check applies a service's and a procedure's rules together: every scope
// and role of both (so that a refusal's scope attribute names all the
// procedure needs), and the procedure's authentication requirement, else
// its service's. claims may be nil (credentials optional, none sent), which
// any requirement refuses.
func check(claims *accesstoken.Claims, service, own *Rule) error {
	var scopes, roles []string
	var authn *accesstoken.AuthenticationRequirement
	for _, r := range []*Rule{service, own} {
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

func fail(w http.ResponseWriter, r *http.Request, cfg *Config, err error, write Writer) {
	e := bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.ResourceMetadata)
	h := w.Header()
	if challenge := e.Challenge(cfg.Realm); challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	h.Set("Cache-Control", "no-store")
	write(w, r, e)
}

// Code is the gRPC (and Connect) status code of an HTTP status of the error
// table: InvalidArgument (3) for 400, PermissionDenied (7) for 403,
// Unavailable (14) for 503, Unauthenticated (16) for 401.
func Code(status int) uint32 {
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

// Message is the error message a client gets: the fixed description, or
// the status text.
func Message(e *accesstoken.Error) string {
	if e.Description != "" {
		return e.Description
	}
	return http.StatusText(e.StatusCode())
}

// PlainHTTP writes a rejection of a request that is not an RPC, as
// httpauth does.
func PlainHTTP(w http.ResponseWriter, e *accesstoken.Error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.StatusCode())
	w.Write([]byte(http.StatusText(e.StatusCode()) + "\n"))
}
