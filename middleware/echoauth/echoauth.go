// Package echoauth is the echo (v4) adapter of accesstoken: middleware that
// takes the bearer token from a request (RFC 6750 §2), validates it, and puts
// the claims in the request's context.
//
//	e := echo.New()
//	e.Use(echoauth.Middleware(v, echoauth.WithRealm("orders")))
//	e.GET("/orders", listOrders, echoauth.RequireScopes("orders:read"))
//
// Handlers read the claims with accesstoken.FromContext(c.Request().Context()).
// A rejection is returned as an *echo.HTTPError with the status of the
// accesstoken error table, a fixed message and the *accesstoken.Error as its
// internal error; the RFC 6750 challenge is already set on the response's
// WWW-Authenticate header, so echo's error handler sends it along.
package echoauth

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

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
	skipper          func(echo.Context) bool
	read             bearer.Reader
}

// WithRealm sets the realm attribute of the WWW-Authenticate challenge.
func WithRealm(realm string) Option { return optionFunc(func(c *config) { c.realm = realm }) }

// WithSkipper lets requests for which skip returns true through untouched,
// without claims.
func WithSkipper(skip func(c echo.Context) bool) Option {
	return optionFunc(func(c *config) { c.skipper = skip })
}

// WithCredentialsOptional lets requests without any token through, without
// claims. A token that is present is still validated.
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
		panic("echoauth.WithPublicURL: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.PublicURL = u })
}

// WithTrustedProxies believes the Forwarded and X-Forwarded-Proto/-Host
// headers of requests from these peers (CIDRs or addresses) when working
// out the URL a DPoP proof must name; the first value counts. It panics on
// text that is neither. By default no peer is trusted.
func WithTrustedProxies(cidrs ...string) Option {
	p, err := bearer.ParseTrustedProxies(cidrs)
	if err != nil {
		panic("echoauth.WithTrustedProxies: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TrustedProxies = p })
}

// WithClientCertificateHeader takes the client certificate of
// certificate-bound tokens (RFC 8705) from the named header when a
// TLS-terminating proxy among WithTrustedProxies sets it, for example
// nginx's "X-SSL-Client-Cert: $ssl_client_escaped_cert" or Envoy's
// "X-Forwarded-Client-Cert". URL-escaped PEM, Envoy's format and base64 DER
// are read. The header of any other peer is ignored, and an unreadable one
// counts as no certificate. Off by default: the certificate comes from the
// TLS connection only.
func WithClientCertificateHeader(name string) Option {
	return optionFunc(func(c *config) { c.read.CertificateHeader = name })
}

// WithResourceMetadata adds resource_metadata="url" to the challenges of
// 401 and 403 answers (RFC 9728 §5.1): the URL where the resource's
// metadata is served (accesstoken.ResourceMetadataURL).
func WithResourceMetadata(url string) Option {
	return optionFunc(func(c *config) { c.resourceMetadata = url })
}

type configKey struct{}

// Middleware validates each request's access token with v: as
// [accesstoken.RequestValidator] when v is one (DPoP proofs, client
// certificates), else as a bearer token. When v requires DPoP nonces, every
// response carries the current one in a DPoP-Nonce header.
func Middleware(v accesstoken.TokenValidator, opts ...Option) echo.MiddlewareFunc {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.skipper != nil && cfg.skipper(c) {
				return next(c)
			}
			r := c.Request()
			ctx, err := cfg.read.Authenticate(context.WithValue(r.Context(), configKey{}, cfg), r, v)
			if err == nil {
				if n := bearer.DPoPNonce(v); n != "" {
					c.Response().Header().Set("DPoP-Nonce", n)
				}
				c.SetRequest(r.WithContext(ctx))
				return next(c)
			}
			return cfg.fail(c, err)
		}
	}
}

// RequireScopes lets a request through only when its claims hold every one
// of scopes: 403 insufficient_scope otherwise (401 without claims). Use it
// behind [Middleware], whose realm it shares.
func RequireScopes(scopes ...string) echo.MiddlewareFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireScopes(c, scopes...) })
}

// RequireRoles lets a request through only when its claims hold every one
// of roles (see accesstoken.Config.RoleClaims): 403 insufficient_scope
// without a scope attribute otherwise (401 without claims). Use it behind
// [Middleware], whose realm it shares.
func RequireRoles(roles ...string) echo.MiddlewareFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireRoles(c, roles...) })
}

// RequireAuthentication lets a request through only when the user's
// authentication in its claims meets req (RFC 9470): 401
// insufficient_user_authentication with acr_values and/or max_age
// otherwise. Use it behind [Middleware], whose realm it shares.
func RequireAuthentication(req accesstoken.AuthenticationRequirement) echo.MiddlewareFunc {
	return require(func(c *accesstoken.Claims) error { return accesstoken.RequireAuthentication(c, req) })
}

// require is the per-route check behind RequireScopes, RequireRoles and
// RequireAuthentication.
func require(check func(*accesstoken.Claims) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			claims, _ := accesstoken.FromContext(ctx)
			if err := check(claims); err != nil {
				cfg, _ := ctx.Value(configKey{}).(*config)
				if cfg == nil {
					cfg = &config{}
				}
				return cfg.fail(c, err)
			}
			return next(c)
		}
	}
}

// fail sets the challenge and returns the echo error for a rejection.
func (cfg *config) fail(c echo.Context, err error) error {
	e := bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.resourceMetadata)
	if challenge := e.Challenge(cfg.realm); challenge != "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	}
	if e.DPoPNonce != "" {
		c.Response().Header().Set("DPoP-Nonce", e.DPoPNonce)
	}
	msg := e.Description
	if msg == "" {
		msg = http.StatusText(e.StatusCode())
	}
	return echo.NewHTTPError(e.StatusCode(), msg).SetInternal(e)
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
		panic("echoauth.WithTokenHeader: " + err.Error())
	}
	return optionFunc(func(c *config) { c.read.TokenHeader = name })
}
