// Package connect2auth is the Connect (connect-go v2) adapter of
// accesstoken: HTTP middleware in front of a server mounted with
// connecthttp.Mount that validates each call's access token, applies
// per-procedure and per-service scopes, roles and authentication
// requirements, and answers a rejection in the protocol the call used
// (Connect, gRPC or gRPC-Web) with the matching code: Unauthenticated,
// PermissionDenied, InvalidArgument or Unavailable. WWW-Authenticate (and
// DPoP-Nonce) travel as HTTP response headers in all three protocols.
//
//	server := connect.NewServer()
//	ordersv1connect.RegisterOrderServiceHandler(server, svc)
//	mux := http.NewServeMux()
//	connecthttp.Mount(mux, server)
//	handler := connect2auth.Middleware(v,
//		connect2auth.WithRealm("orders"),
//		connect2auth.WithScopes("/orders.v1.OrderService/", "orders:read"),
//		connect2auth.WithoutAuthentication("/grpc.health.v1.Health/"),
//	)(mux)
//
// Handlers read the claims with accesstoken.FromContext(ctx).
//
// Why HTTP middleware and not a connect.ServerInterceptor: v2 made
// interceptors transport-neutral and server-wide. A ServerInterceptor sees
// neither the HTTP method and URL a DPoP proof signs nor the TLS client
// certificate of a certificate-bound token, and runs once connect-go has
// begun the call. The middleware runs first, sees the request as the
// client sent it (a DPoP proof is checked against POST and the procedure's
// URL), checks streaming calls once before their first message, and writes
// rejections with connecthttp's ErrorWriter, so that WWW-Authenticate is an
// HTTP response header in every protocol. Calls through connectinprocess
// bypass HTTP, and so this middleware: authenticate in-process callers
// another way.
package connect2auth

import (
	"net/http"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
)

// Option configures [Middleware].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithRealm sets the realm attribute of the WWW-Authenticate challenge.
func WithRealm(realm string) Option { return optionFunc(func(c *config) { c.Realm = realm }) }

// WithScopes requires every one of scopes for procedure ("/pkg.Service/Method")
// or for every procedure of a service ("/pkg.Service/"): PermissionDenied
// (HTTP 403, insufficient_scope) otherwise. A procedure's own requirements
// add to its service's. It panics on a key of neither form.
func WithScopes(procedure string, scopes ...string) Option {
	checkKey("connect2auth.WithScopes", procedure)
	return optionFunc(func(c *config) {
		r := c.rule(procedure)
		r.Scopes = append(r.Scopes, scopes...)
	})
}

// WithRoles requires every one of roles (see accesstoken.Config.RoleClaims)
// for procedure or service, as WithScopes does.
func WithRoles(procedure string, roles ...string) Option {
	checkKey("connect2auth.WithRoles", procedure)
	return optionFunc(func(c *config) {
		r := c.rule(procedure)
		r.Roles = append(r.Roles, roles...)
	})
}

// WithAuthentication requires the user's authentication to meet req (RFC
// 9470) for procedure or service: Unauthenticated with
// error="insufficient_user_authentication" otherwise.
func WithAuthentication(procedure string, req accesstoken.AuthenticationRequirement) Option {
	checkKey("connect2auth.WithAuthentication", procedure)
	return optionFunc(func(c *config) { c.rule(procedure).Authentication = &req })
}

// WithoutAuthentication lets calls of procedure or service through without
// a token, untouched (health checks, reflection). A procedure's own rule
// wins over its service's.
func WithoutAuthentication(procedure string) Option {
	checkKey("connect2auth.WithoutAuthentication", procedure)
	return optionFunc(func(c *config) { c.rule(procedure).Public = true })
}

// WithCredentialsOptional lets calls without any token through, without
// claims. A token that is present is still validated, and a procedure with
// scopes, roles or an authentication requirement still needs one.
func WithCredentialsOptional() Option {
	return optionFunc(func(c *config) { c.Read.Optional = true })
}

// WithPublicURL names the external base URL of the API when a proxy in
// front of it changes the scheme, host or path prefix: the URL a DPoP proof
// must name is this base followed by the request path. It panics on
// anything but an absolute http(s) URL without query and fragment.
func WithPublicURL(base string) Option {
	u, err := bearer.ParsePublicURL(base)
	if err != nil {
		panic("connect2auth.WithPublicURL: " + err.Error())
	}
	return optionFunc(func(c *config) { c.Read.PublicURL = u })
}

// WithTrustedProxies believes the Forwarded and X-Forwarded-Proto/-Host
// headers of requests from these peers (CIDRs or addresses) when working
// out the URL a DPoP proof must name. It panics on text that is neither.
func WithTrustedProxies(cidrs ...string) Option {
	p, err := bearer.ParseTrustedProxies(cidrs)
	if err != nil {
		panic("connect2auth.WithTrustedProxies: " + err.Error())
	}
	return optionFunc(func(c *config) { c.Read.TrustedProxies = p })
}

// WithoutStreamGuard turns off the guard of streaming calls: a stream then
// lives on after its token expires or is revoked (authentication at its
// start stays). See [Middleware].
func WithoutStreamGuard() Option { return optionFunc(func(c *config) { c.NoStreamGuard = true }) }

// WithResourceMetadata adds resource_metadata="url" to the challenges of
// Unauthenticated and PermissionDenied answers (RFC 9728 §5.1).
func WithResourceMetadata(url string) Option {
	return optionFunc(func(c *config) { c.ResourceMetadata = url })
}

// Middleware validates the access token of every call that reaches next,
// with v: as [accesstoken.RequestValidator] when v is one (DPoP, client
// certificates), else as a bearer token. A request that is not a Connect,
// gRPC or gRPC-Web call (another handler on the same mux) is answered as
// httpauth answers it. Give the error writer the connecthttp options of
// your Mount (WithRequireConnectProtocolHeader, codecs) with
// [WithMountOptions].
//
// Streaming calls are guarded (accesstoken.Guard): when the token expires or
// is revoked during a client, server or bidi stream, the handler's context
// is done (context.Cause says why), a Receive under way returns an error,
// further Sends fail, and the call ends with CodeUnauthenticated and the
// reason as message, whatever the handler returns, in all three protocols;
// the challenge travels in the end of stream's metadata ("www-authenticate")
// in Connect and gRPC-Web, not in gRPC, whose HTTP/2 trailers may not carry
// it. Unary Connect calls are not guarded; unary gRPC and gRPC-Web calls
// are, being indistinguishable from streams at the HTTP layer.
// [WithoutStreamGuard] turns the guard off.
func Middleware(v accesstoken.TokenValidator, opts ...Option) func(http.Handler) http.Handler {
	cfg := &config{}
	var handlerOpts []connecthttp.Option
	for _, o := range opts {
		if h, ok := o.(mountOptions); ok {
			handlerOpts = append(handlerOpts, h...)
			continue
		}
		o.apply(cfg)
	}
	ew := connecthttp.NewErrorWriter(handlerOpts...)
	return middleware(v, cfg, func(w http.ResponseWriter, r *http.Request, e *accesstoken.Error) {
		if !ew.IsSupported(r) {
			plainHTTP(w, e)
			return
		}
		ew.Write(w, r, connect.NewError(connect.Code(code(e.StatusCode())), message(e)))
	})
}

// WithMountOptions gives the error writer the connecthttp options of your
// Mount, so that it classifies requests as your server does.
func WithMountOptions(opts ...connecthttp.Option) Option { return mountOptions(opts) }

type mountOptions []connecthttp.Option

func (mountOptions) apply(*config) {}

// WithTokenHeader takes the token from the named header instead of
// Authorization: txntoken.Header ("Txn-Token") in a service behind a
// gateway that mints Transaction Tokens (validate them with a validator
// made from txntoken.Config). The header must appear once, holding one
// token: two are CodeInvalidArgument. Authorization, and the form and query
// parameters, are then ignored (the Transaction Tokens draft leaves
// Authorization to the workload's own credential). It panics on a name
// that is not an HTTP field name, and on Authorization.
func WithTokenHeader(name string) Option {
	name, err := bearer.ParseTokenHeader(name)
	if err != nil {
		panic("connect2auth.WithTokenHeader: " + err.Error())
	}
	return optionFunc(func(c *config) { c.Read.TokenHeader = name })
}
