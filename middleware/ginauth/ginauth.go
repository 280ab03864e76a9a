// Package ginauth is the gin adapter of accesstoken: middleware that takes
// the bearer token from a request (RFC 6750 §2), validates it, and puts the
// claims in the request's context, with per-route checks of scopes, roles
// and the user's authentication (RFC 9470).
//
//	r := gin.New()
//	r.Use(ginauth.Middleware(v, ginauth.WithRealm("orders")))
//	r.GET("/orders", ginauth.RequireScopes("orders:read"), listOrders)
//
// Handlers read the claims with accesstoken.FromContext(c.Request.Context())
// (or accesstoken.FromContext(c) on an engine with ContextWithFallback). A
// rejection aborts the chain: the status of the accesstoken error table, its
// RFC 6750 challenge in WWW-Authenticate, "Cache-Control: no-store", and
// the status text as a plain body; the *accesstoken.Error, with its cause,
// is added to c.Errors for gin's logger and error middleware, never to the
// response.
package ginauth

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
)

// Option configures [Middleware].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	realm            string
	resourceMetadata string
	skipper          func(*gin.Context) bool
	read             bearer.Reader
}

// WithRealm sets the realm attribute of the WWW-Authenticate challenge.
func WithRealm(realm string) Option { return optionFunc(func(c *config) { c.realm = realm }) }

// WithSkipper lets requests for which skip returns true through untouched,
// without claims (health checks, say).
func WithSkipper(skip func(c *gin.Context) bool) Option {
	return optionFunc(func(c *config) { c.skipper = skip })
}

// WithCredentialsOptional lets requests without any token through, without
// claims. A token that is present is still validated, and the per-route
// checks still refuse a request without claims.
func WithCredentialsOptional() Option { return optionFunc(func(c *config) { c.read.Optional = true }) }

// WithFormToken also accepts the access_token form parameter (RFC 6750 §2.2).
func WithFormToken() Option { return optionFunc(func(c *config) { c.read.Form = true }) }

// WithQueryToken also accepts the access_token query parameter (RFC 6750
// §2.3); off by default because URLs are logged.
func WithQueryToken() Option { return optionFunc(func(c *config) { c.read.Query = true }) }

// WithPublicURL names the external base URL of the API when a proxy in
// front of it changes the scheme, host or path prefix: the URL a DPoP proof
// must name is this base followed by the request path. It panics on
// anything but an absolute http(s) URL without query and fragment. By
// default the URL is built from the request (scheme by TLS, Host, path).
func WithPublicURL(base string) Option {
	u, err := bearer.ParsePublicURL(base)
	if err != nil {
		panic("ginauth.WithPublicURL: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.PublicURL = u })
}

// WithTrustedProxies believes the Forwarded and X-Forwarded-Proto/-Host
// headers of requests from these peers (CIDRs or addresses) when working
// out the URL a DPoP proof must name; the first value counts. It panics on
// text that is neither. By default no peer is trusted. It is independent of
// gin's own SetTrustedProxies, which governs ClientIP.
func WithTrustedProxies(cidrs ...string) Option {
	p, err := bearer.ParseTrustedProxies(cidrs)
	if err != nil {
		panic("ginauth.WithTrustedProxies: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TrustedProxies = p })
}

// WithClientCertificateHeader takes the client certificate of
// certificate-bound tokens (RFC 8705) from the named header when a
// TLS-terminating proxy among WithTrustedProxies sets it (nginx's
// $ssl_client_escaped_cert, Envoy's X-Forwarded-Client-Cert). Off by
// default: the certificate comes from the TLS connection only.
func WithClientCertificateHeader(name string) Option {
	return optionFunc(func(c *config) { c.read.CertificateHeader = name })
}

// WithResourceMetadata adds resource_metadata="url" to the challenges of
// 401 and 403 answers (RFC 9728 §5.1).
func WithResourceMetadata(url string) Option {
	return optionFunc(func(c *config) { c.resourceMetadata = url })
}

// configKey is the request context's key of Middleware's config, for the
// per-route checks (a context value costs one allocation; gin's c.Set two).
type configKey struct{}

// Middleware validates each request's access token with v: as
// [accesstoken.RequestValidator] when v is one (DPoP proofs with htu built
// from the request as httpauth builds it, client certificates), else as a
// bearer token. When v requires DPoP nonces, every response carries the
// current one in a DPoP-Nonce header.
func Middleware(v accesstoken.TokenValidator, opts ...Option) gin.HandlerFunc {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	return func(c *gin.Context) {
		if cfg.skipper != nil && cfg.skipper(c) {
			c.Next()
			return
		}
		r := c.Request
		ctx, err := cfg.read.Authenticate(context.WithValue(r.Context(), configKey{}, cfg), r, v)
		if err != nil {
			cfg.fail(c, err)
			return
		}
		if n := bearer.DPoPNonce(v); n != "" {
			c.Header("DPoP-Nonce", n)
		}
		c.Request = r.WithContext(ctx)
		c.Next()
	}
}

// RequireScopes lets a request through only when its claims hold every one
// of scopes: 403 insufficient_scope otherwise (401 without claims). Use it
// on a route behind [Middleware], whose realm it shares.
func RequireScopes(scopes ...string) gin.HandlerFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireScopes(c, scopes...) })
}

// RequireRoles lets a request through only when its claims hold every one
// of roles (see accesstoken.Config.RoleClaims): 403 insufficient_scope
// without a scope attribute otherwise (401 without claims).
func RequireRoles(roles ...string) gin.HandlerFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireRoles(c, roles...) })
}

// RequireAuthentication lets a request through only when the user's
// authentication in its claims meets req (RFC 9470): 401
// insufficient_user_authentication with acr_values and/or max_age
// otherwise.
func RequireAuthentication(req accesstoken.AuthenticationRequirement) gin.HandlerFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireAuthentication(c, req) })
}

func require(check func(*accesstoken.Claims) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, _ := accesstoken.FromContext(c.Request.Context())
		if err := check(claims); err != nil {
			cfg, _ := c.Request.Context().Value(configKey{}).(*config)
			if cfg == nil {
				cfg = &config{}
			}
			cfg.fail(c, err)
			return
		}
		c.Next()
	}
}

// fail answers a rejection and aborts the chain.
func (cfg *config) fail(c *gin.Context, err error) {
	e := bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.resourceMetadata)
	bearer.SetRefusalHeaders(c.Writer.Header(), e, cfg.realm)
	_ = c.Error(e) // for gin's logger and error middleware; the response carries none of it
	status := e.StatusCode()
	c.Data(status, "text/plain; charset=utf-8", []byte(http.StatusText(status)+"\n"))
	c.Abort()
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
		panic("ginauth.WithTokenHeader: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TokenHeader = name })
}
