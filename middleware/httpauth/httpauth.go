// Package httpauth is the net/http adapter of accesstoken: middleware that
// takes the bearer token from a request (RFC 6750 §2), validates it, puts
// the claims in the request context and answers rejections with the RFC 6750
// status and WWW-Authenticate challenge.
//
//	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
//		Issuer:   "https://issuer.example",
//		Audience: []string{"https://api.example"},
//	})
//	...
//	mux.Handle("GET /orders", httpauth.RequireScopes("orders:read")(ordersHandler))
//	http.ListenAndServe(addr, httpauth.Middleware(v, httpauth.WithRealm("orders"))(mux))
//
// Handlers read the claims with [accesstoken.FromContext].
package httpauth

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/operation"
	"github.com/tokenguard/accesstoken/txntoken"
)

// Option configures [Middleware].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	realm            string
	onError          func(http.ResponseWriter, *http.Request, *accesstoken.Error)
	read             bearer.Reader
	resourceMetadata string

	// What every request needs: WithRequiredScopes, WithRequiredRoles and
	// WithOperationScopes (nil: none).
	scopes, roles []string
	ops           *operation.Rules
	paths         []pathRule // WithPathScopes
	streamGuard   bool       // WithStreamGuard

	// ForwardAuth and ForwardIdentity only.
	claimHeaders []claimHeader

	minter txntoken.Minter // WithTransactionToken; nil: none
}

// WithRealm sets the realm attribute of the WWW-Authenticate challenge.
// By default the challenge has no realm.
func WithRealm(realm string) Option {
	return optionFunc(func(c *config) { c.realm = realm })
}

// WithErrorHandler replaces the response written for a rejected request.
// The handler receives the rejection as an [*accesstoken.Error]; its
// StatusCode and Challenge methods give the RFC 6750 answer, and its Err
// field the cause, for logs. By default the response is the status, the
// WWW-Authenticate challenge and the status text as the body.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err *accesstoken.Error)) Option {
	return optionFunc(func(c *config) { c.onError = h })
}

// WithCredentialsOptional lets requests without any token through, with no
// claims in their context, for handlers that serve anonymous and
// authenticated callers alike. A token that is present is still validated,
// and a bad one still rejected.
func WithCredentialsOptional() Option {
	return optionFunc(func(c *config) { c.read.Optional = true })
}

// WithFormToken also accepts the token as the access_token parameter of a
// form-encoded request body (RFC 6750 §2.2). Off by default.
func WithFormToken() Option {
	return optionFunc(func(c *config) { c.read.Form = true })
}

// WithQueryToken also accepts the token as the access_token query parameter
// (RFC 6750 §2.3). Off by default: URLs end up in logs and browser history,
// and the token with them.
func WithQueryToken() Option {
	return optionFunc(func(c *config) { c.read.Query = true })
}

// WithPublicURL names the external base URL of the API when a proxy in
// front of it changes the scheme, host or path prefix, for example
// "https://api.example.com" or "https://example.com/orders-api": the URL a
// DPoP proof must name (its "htu") is this base followed by the request
// path. It panics on anything but an absolute http(s) URL without query and
// fragment, as http.ServeMux.Handle does on a bad pattern. By default the
// URL is built from the request: "https" with TLS, else "http", then the
// Host header and the path.
func WithPublicURL(base string) Option {
	u, err := bearer.ParsePublicURL(base)
	if err != nil {
		panic("httpauth.WithPublicURL: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.PublicURL = u })
}

// WithTrustedProxies believes the Forwarded (RFC 7239) and
// X-Forwarded-Proto / X-Forwarded-Host headers of requests from these peers
// (CIDRs or addresses, like "10.0.0.0/8" or "127.0.0.1") when working out
// the URL a DPoP proof must name; the first value counts, so the outermost
// proxy must overwrite what clients send rather than append to it. Headers
// from any other peer are ignored. It panics on text that is neither a CIDR
// nor an address. By default no peer is trusted.
func WithTrustedProxies(cidrs ...string) Option {
	p, err := bearer.ParseTrustedProxies(cidrs)
	if err != nil {
		panic("httpauth.WithTrustedProxies: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TrustedProxies = p })
}

// WithClientCertificateHeader takes the client certificate of
// certificate-bound tokens (RFC 8705) from the named header when a
// TLS-terminating proxy among [WithTrustedProxies] sets it, for example
// nginx's "X-SSL-Client-Cert: $ssl_client_escaped_cert" or Envoy's
// "X-Forwarded-Client-Cert". URL-escaped PEM, Envoy's format and base64 DER
// are read. The header of any other peer is ignored, and an unreadable one
// counts as no certificate. Off by default: the certificate comes from the
// TLS connection only.
func WithClientCertificateHeader(name string) Option {
	return optionFunc(func(c *config) { c.read.CertificateHeader = name })
}

type configKey struct{}

// Middleware returns middleware that validates each request's access token
// with v. An accepted request reaches next with the claims in its context
// ([accesstoken.FromContext]); a rejected one gets 400, 401, 403 or 503 as
// the accesstoken error table says, and never reaches next.
//
// When v is an [accesstoken.RequestValidator] (a Validator or MultiIssuer
// is), the whole request is checked: the DPoP scheme and proof (RFC 9449),
// with the URL from [WithPublicURL] or [WithTrustedProxies], and the TLS
// client certificate of certificate-bound tokens (RFC 8705). When v requires
// DPoP nonces, every response carries the current one in a DPoP-Nonce
// header.
func Middleware(v accesstoken.TokenValidator, opts ...Option) func(http.Handler) http.Handler {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	if cfg.onError == nil {
		cfg.onError = cfg.writeError
	}
	rules := cfg.ops != nil || len(cfg.scopes) > 0 || len(cfg.roles) > 0 || len(cfg.paths) > 0
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var op *operation.Operation
			var bad error
			if cfg.ops != nil {
				op, bad = operation.Read(r) // the body, restored for next
			}
			ctx, err := cfg.read.Authenticate(context.WithValue(r.Context(), configKey{}, cfg), r, v)
			var needs []string
			if rules {
				var asked operation.Operation
				if op != nil {
					asked = *op
				}
				needs = cfg.ops.Needs(cfg.withPaths(cfg.scopes, r.URL.Path, true), asked)
			}
			if err == nil && rules {
				claims, _ := accesstoken.FromContext(ctx)
				switch {
				case claims == nil && (len(needs) > 0 || len(cfg.roles) > 0):
					err = accesstoken.ErrNoToken // credentials optional, and none sent
				case bad != nil:
					bad.(*operation.Error).Write(w)
					return
				case len(needs) > 0:
					err = accesstoken.RequireScopes(claims, needs...)
				}
				if err == nil && len(cfg.roles) > 0 {
					err = accesstoken.RequireRoles(claims, cfg.roles...)
				}
			}
			if err == nil && cfg.minter != nil {
				if claims, ok := accesstoken.FromContext(ctx); ok {
					var tok string
					if tok, err = cfg.mint(r, claims, false); err == nil {
						r.Header.Set(txntoken.Header, tok) // replaces any the client sent
						ctx = context.WithValue(ctx, mintedKey{}, tok)
					}
				} else {
					r.Header.Del(txntoken.Header) // anonymous (credentials optional): no identity to carry
				}
			}
			if err == nil {
				if n := bearer.DPoPNonce(v); n != "" {
					w.Header().Set("DPoP-Nonce", n)
				}
				r = r.WithContext(ctx)
				if cfg.streamGuard {
					var release func()
					w, r, release = bearer.GuardRequest(w, r, v)
					defer release()
				}
				next.ServeHTTP(w, r)
				return
			}
			e := withScopes(bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.resourceMetadata), needs)
			if e.DPoPNonce != "" {
				w.Header().Set("DPoP-Nonce", e.DPoPNonce)
			}
			cfg.onError(w, r, e)
		})
	}
}

// withScopes names, in the challenge of a 401, the scopes the request
// needs, so that a client asks for all of them at once (SEP-2350); a copy,
// since e may be shared.
func withScopes(e *accesstoken.Error, needs []string) *accesstoken.Error {
	if len(needs) == 0 || e.Scope != "" || e.StatusCode() != http.StatusUnauthorized {
		return e
	}
	cp := *e
	cp.Scope = strings.Join(needs, " ")
	return &cp
}

// RequireScopes returns middleware that lets a request through only when
// the claims in its context hold every one of scopes, and otherwise answers
// 403 insufficient_scope (401 when there are no claims). Use it inside
// [Middleware], whose realm and error handler it shares.
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireScopes(c, scopes...) })
}

// RequireRoles returns middleware that lets a request through only when
// the claims in its context hold every one of roles (see
// accesstoken.Config.RoleClaims), and otherwise answers 403
// insufficient_scope without a scope attribute (401 when there are no
// claims). Use it inside [Middleware], whose realm and error handler it
// shares.
func RequireRoles(roles ...string) func(http.Handler) http.Handler {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireRoles(c, roles...) })
}

// RequireAuthentication returns middleware that lets a request through only
// when the user's authentication in its claims meets req (RFC 9470: the
// "acr" and how recent "auth_time" is), and otherwise answers 401
// insufficient_user_authentication with acr_values and/or max_age, so that
// the client sends the user to log in again. Use it inside [Middleware].
func RequireAuthentication(req accesstoken.AuthenticationRequirement) func(http.Handler) http.Handler {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireAuthentication(c, req) })
}

// require is the per-route check behind RequireScopes, RequireRoles and
// RequireAuthentication.
func require(check func(*accesstoken.Claims) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := accesstoken.FromContext(r.Context())
			if err := check(claims); err != nil {
				cfg, ok := r.Context().Value(configKey{}).(*config)
				if !ok {
					cfg = &config{}
					cfg.onError = cfg.writeError
				}
				cfg.onError(w, r, bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.resourceMetadata))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// writeError is the default error handler.
func (c *config) writeError(w http.ResponseWriter, _ *http.Request, e *accesstoken.Error) {
	h := w.Header()
	bearer.SetRefusalHeaders(h, e, c.realm)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	status := e.StatusCode()
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+"\n")
}

// WithTokenHeader takes the token from the named header instead of
// Authorization: txntoken.Header ("Txn-Token") in a service behind a
// gateway that mints Transaction Tokens (validate them with a validator
// made from txntoken.Config). The header must appear once, holding one
// token: two are 400 invalid_request. Authorization, and the form and query
// parameters, are then ignored (the Transaction Tokens draft leaves
// Authorization to the workload's own credential). It panics on a name
// that is not an HTTP field name, and on Authorization.
func WithTokenHeader(name string) Option {
	name, err := bearer.ParseTokenHeader(name)
	if err != nil {
		panic("httpauth.WithTokenHeader: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TokenHeader = name })
}
