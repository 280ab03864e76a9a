// Package grpcauth is the gRPC adapter of accesstoken: unary and stream
// server interceptors that take the access token from the "authorization"
// metadata (Bearer or DPoP, with the proof in "dpop" metadata), validate
// it, and put the claims in the handler's context. With DPoP nonces the
// current nonce travels in "dpop-nonce" response header metadata.
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v,
//			grpcauth.WithScopes("/orders.v1.Orders/List", "orders:read"),
//			grpcauth.WithoutAuthentication("/grpc.health.v1.Health/"))),
//		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v)),
//	)
//
// Handlers read the claims with accesstoken.FromContext. A rejected call
// ends with the status code of the accesstoken error table
// (Unauthenticated, InvalidArgument, PermissionDenied, Unavailable), a fixed
// message, and the RFC 6750 challenge in the "www-authenticate" response
// header metadata. For go-grpc-middleware's auth interceptor, use [AuthFunc].
package grpcauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
)

// Option configures the interceptors.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tokenHeader string // metadata key of WithTokenHeader; "" = authorization
	realm       string
	scopes      map[string][]string // by full method name
	roles       map[string][]string // by full method name
	authn       map[string]accesstoken.AuthenticationRequirement
	skip        []string // full method names, or service prefixes ending in "/"
	target      bearer.Reader
	// resourceMetadata is the RFC 9728 metadata URL for challenges.
	resourceMetadata string
	noStreamGuard    bool // WithoutStreamGuard
}

// WithoutStreamGuard turns off the guard of [StreamServerInterceptor]: a
// stream then lives on after its token expires or is revoked, as it did
// before (authentication at its start stays).
func WithoutStreamGuard() Option {
	return optionFunc(func(c *config) { c.noStreamGuard = true })
}

// WithResourceMetadata adds resource_metadata="url" to the challenges in
// "www-authenticate" of Unauthenticated and PermissionDenied answers (RFC
// 9728 §5.1): the URL where the service's metadata is served
// (accesstoken.ResourceMetadataURL).
func WithResourceMetadata(url string) Option {
	return optionFunc(func(c *config) { c.resourceMetadata = url })
}

// WithPublicURL names the external base URL of the service when a proxy in
// front of it changes the scheme or host: the URL a DPoP proof must name is
// this base followed by the full method ("/package.Service/Method"). It
// panics on anything but an absolute http(s) URL without query and
// fragment. By default the URL is built from the call: "https" over TLS,
// else "http", then :authority and the full method.
func WithPublicURL(base string) Option {
	u, err := bearer.ParsePublicURL(base)
	if err != nil {
		panic("grpcauth.WithPublicURL: " + err.Error())
	}
	return optionFunc(func(c *config) { c.target.PublicURL = u })
}

// WithClientCertificateHeader takes the client certificate of
// certificate-bound tokens (RFC 8705) from the named metadata when a
// TLS-terminating proxy among those of WithTrustedProxies sets it (Envoy's
// "x-forwarded-client-cert", or URL-escaped PEM). Metadata from any other
// peer is ignored, and an unreadable value counts as no certificate. Off by
// default: the certificate comes from the TLS connection only.
func WithClientCertificateHeader(name string) Option {
	return optionFunc(func(c *config) { c.target.CertificateHeader = strings.ToLower(name) })
}

// WithTrustedProxies believes the "forwarded", "x-forwarded-proto" and
// "x-forwarded-host" metadata of calls from these peers (CIDRs or
// addresses) when working out the URL a DPoP proof must name; the first
// value counts. It panics on text that is neither. By default no peer is
// trusted.
func WithTrustedProxies(cidrs ...string) Option {
	p, err := bearer.ParseTrustedProxies(cidrs)
	if err != nil {
		panic("grpcauth.WithTrustedProxies: " + err.Error())
	}
	return optionFunc(func(c *config) { c.target.TrustedProxies = p })
}

// WithRealm sets the realm of the challenge in "www-authenticate".
func WithRealm(realm string) Option {
	return optionFunc(func(c *config) { c.realm = realm })
}

// WithScopes requires every one of scopes for the method, named as gRPC
// names it ("/package.Service/Method"). A call without them ends with
// PermissionDenied. Repeat the option for more methods.
func WithScopes(fullMethod string, scopes ...string) Option {
	return optionFunc(func(c *config) {
		c.scopes[fullMethod] = append(c.scopes[fullMethod], scopes...)
	})
}

// WithRoles requires every one of roles (see accesstoken.Config.RoleClaims)
// for the method, named as gRPC names it ("/package.Service/Method"). A call
// without them ends with PermissionDenied. Repeat the option for more
// methods.
func WithRoles(fullMethod string, roles ...string) Option {
	return optionFunc(func(c *config) {
		c.roles[fullMethod] = append(c.roles[fullMethod], roles...)
	})
}

// WithAuthentication requires the user's authentication to meet req for
// the method (RFC 9470: "acr" and how recent "auth_time" is). A call that
// does not meet it ends with Unauthenticated and the
// insufficient_user_authentication challenge (acr_values, max_age) in
// "www-authenticate".
func WithAuthentication(fullMethod string, req accesstoken.AuthenticationRequirement) Option {
	return optionFunc(func(c *config) { c.authn[fullMethod] = req })
}

// WithoutAuthentication lets calls to the given methods through without a
// token and without claims: health checks, reflection. A name ending in "/"
// ("/grpc.health.v1.Health/") covers every method of that service.
func WithoutAuthentication(methods ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, methods...) })
}

func newConfig(opts []Option) *config {
	c := &config{scopes: map[string][]string{}, roles: map[string][]string{}, authn: map[string]accesstoken.AuthenticationRequirement{}}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

func (c *config) skipped(method string) bool {
	for _, s := range c.skip {
		if s == method || (strings.HasSuffix(s, "/") && strings.HasPrefix(method, s)) {
			return true
		}
	}
	return false
}

// UnaryServerInterceptor validates the token of every unary call.
func UnaryServerInterceptor(v accesstoken.TokenValidator, opts ...Option) grpc.UnaryServerInterceptor {
	cfg := newConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if cfg.skipped(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := cfg.authenticate(ctx, v, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor validates the token of every streaming call; the
// handler's ServerStream.Context carries the claims.
//
// Every stream is guarded (accesstoken.Guard): when its token expires or is
// revoked, the stream's context is done (context.Cause says why), SendMsg
// and RecvMsg fail, and the call ends with Unauthenticated, the reason as
// message ("The access token expired", "The access token was revoked") and
// the challenge in the "www-authenticate" trailer, whatever the handler
// returns. A handler blocked in RecvMsg while the client sends nothing
// returns when the next message comes or the client goes away: a handler
// that waits should select on the context. Unary calls are not guarded.
// [WithoutStreamGuard] turns the guard off.
func StreamServerInterceptor(v accesstoken.TokenValidator, opts ...Option) grpc.StreamServerInterceptor {
	cfg := newConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if cfg.skipped(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := cfg.authenticate(ss.Context(), v, info.FullMethod)
		if err != nil {
			return err
		}
		claims, _ := accesstoken.FromContext(ctx)
		if cfg.noStreamGuard || claims == nil {
			return handler(srv, &stream{ServerStream: ss, ctx: ctx})
		}
		g := &guardedStream{stream: stream{ServerStream: ss, ctx: accesstoken.Guard(ctx, v, claims)}, cfg: cfg}
		err = handler(srv, g)
		if ended := g.ended(); ended != nil {
			return ended
		}
		return err
	}
}

// guardedStream fails SendMsg and RecvMsg once its token has ended.
type guardedStream struct {
	stream
	cfg  *config
	once sync.Once
	err  error // the status once the token ended
}

// ended is the status of a stream whose token ended, with the challenge
// in the trailer (set once); nil while the token lives.
func (g *guardedStream) ended() error {
	if g.ctx.Err() == nil {
		return nil
	}
	var e *accesstoken.Error
	if !errors.As(context.Cause(g.ctx), &e) {
		return nil // the call itself ended: the client left, a deadline passed
	}
	g.once.Do(func() {
		e = bearer.WithResourceMetadata(e, g.cfg.resourceMetadata)
		if challenge := e.Challenge(g.cfg.realm); challenge != "" {
			g.ServerStream.SetTrailer(metadata.Pairs("www-authenticate", challenge))
		}
		g.err = status.Error(codes.Unauthenticated, e.Description)
	})
	return g.err
}

func (g *guardedStream) SendMsg(m any) error {
	if err := g.ended(); err != nil {
		return err
	}
	return g.ServerStream.SendMsg(m)
}

func (g *guardedStream) RecvMsg(m any) error {
	if err := g.ended(); err != nil {
		return err
	}
	err := g.ServerStream.RecvMsg(m)
	if ended := g.ended(); ended != nil {
		return ended // a message that came after the token ended is not read
	}
	return err
}

// AuthFunc returns a function of the shape go-grpc-middleware/v2's auth
// interceptor takes (auth.UnaryServerInterceptor(grpcauth.AuthFunc(v))), so
// neither module imports the other. The options work as for the
// interceptors; the method comes from grpc.Method. A method exempted with
// WithoutAuthentication gets the context back unchanged.
func AuthFunc(v accesstoken.TokenValidator, opts ...Option) func(context.Context) (context.Context, error) {
	cfg := newConfig(opts)
	return func(ctx context.Context) (context.Context, error) {
		method, _ := grpc.Method(ctx)
		if cfg.skipped(method) {
			return ctx, nil
		}
		return cfg.authenticate(ctx, v, method)
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// authenticate validates the call's token and checks the method's scopes.
// A validator that is an accesstoken.RequestValidator gets the whole call:
// scheme, "dpop" metadata, method POST, the URL, the TLS client certificate.
func (c *config) authenticate(ctx context.Context, v accesstoken.TokenValidator, method string) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var scheme, token string
	var err error
	if c.tokenHeader != "" {
		scheme = bearer.SchemeBearer
		token, err = bearer.FromTokenHeader(md.Get(c.tokenHeader))
	} else {
		scheme, token, err = bearer.FromAuthorization(md.Get("authorization"))
	}
	if err == nil && token == "" {
		err = accesstoken.ErrNoToken
	}
	var claims *accesstoken.Claims
	if rv, ok := v.(accesstoken.RequestValidator); ok && c.tokenHeader == "" {
		if err == nil || errors.Is(err, accesstoken.ErrNoToken) {
			claims, err = rv.ValidateRequest(ctx, c.request(ctx, md, scheme, token, method))
		}
	} else {
		if err == nil && scheme != bearer.SchemeBearer {
			err = accesstoken.ErrNoToken // a plain TokenValidator takes bearer tokens only
		}
		if err == nil {
			claims, err = v.Validate(ctx, token)
		}
	}
	if err == nil {
		err = accesstoken.RequireScopes(claims, c.scopes[method]...)
	}
	if err == nil {
		err = accesstoken.RequireRoles(claims, c.roles[method]...)
	}
	if req, ok := c.authn[method]; ok && err == nil {
		err = accesstoken.RequireAuthentication(claims, req)
	}
	if err != nil {
		return nil, c.statusError(ctx, err)
	}
	if n := bearer.DPoPNonce(v); n != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs("dpop-nonce", n))
	}
	return accesstoken.NewContext(ctx, claims), nil
}

// request builds the accesstoken.Request of a call (RFC 9449 §7.1 for gRPC:
// htm is POST, htu the URL of the full method).
func (c *config) request(ctx context.Context, md metadata.MD, scheme, token, method string) *accesstoken.Request {
	r := &accesstoken.Request{
		Scheme:    scheme,
		Token:     token,
		DPoPProof: strings.Join(md.Get("dpop"), ","),
		Method:    http.MethodPost,
	}
	var remote string
	var isTLS bool
	if p, ok := peer.FromContext(ctx); ok {
		if p.Addr != nil {
			remote = p.Addr.String()
		}
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			isTLS = true
			if certs := info.State.PeerCertificates; len(certs) > 0 {
				r.ClientCertificate = certs[0]
			}
		}
	}
	var authority string
	if a := md.Get(":authority"); len(a) > 0 {
		authority = a[0]
	}
	fwd := http.Header{}
	for _, k := range []string{"forwarded", "x-forwarded-proto", "x-forwarded-host"} {
		for _, v := range md.Get(k) {
			fwd.Add(k, v)
		}
	}
	r.URL = c.target.TargetURL(remote, isTLS, authority, method, fwd)
	if r.ClientCertificate == nil && c.target.CertificateHeader != "" {
		if v := md.Get(c.target.CertificateHeader); len(v) > 0 {
			r.ClientCertificate = c.target.ForwardedCertificate(remote, v[0])
		}
	}
	return r
}

// statusError maps a rejection to its gRPC status and sets the challenge as
// response header metadata.
func (c *config) statusError(ctx context.Context, err error) error {
	e := bearer.WithResourceMetadata(accesstoken.AsError(err), c.resourceMetadata)
	md := metadata.MD{}
	if challenge := e.Challenge(c.realm); challenge != "" {
		md.Set("www-authenticate", challenge)
	}
	if e.DPoPNonce != "" {
		md.Set("dpop-nonce", e.DPoPNonce)
	}
	if len(md) > 0 {
		// Fails only outside a server call, where there is no header to set.
		_ = grpc.SetHeader(ctx, md)
	}
	code, msg := codes.Unauthenticated, e.Description
	switch {
	case errors.Is(e, accesstoken.ErrInvalidRequest):
		code = codes.InvalidArgument
	case errors.Is(e, accesstoken.ErrInsufficientScope):
		code = codes.PermissionDenied
	case errors.Is(e, accesstoken.ErrUnavailable):
		code, msg = codes.Unavailable, "The access token cannot be checked now"
	case errors.Is(e, accesstoken.ErrNoToken):
		msg = "The request has no access token"
	}
	// ErrInvalidDPoPProof and ErrUseDPoPNonce are Unauthenticated too.
	return status.Error(code, msg)
}

// WithTokenHeader takes the token from the named header instead of the
// "authorization" metadata: txntoken.Header (read as the metadata key "txn-token") in a service behind a
// gateway that mints Transaction Tokens (validate them with a validator
// made from txntoken.Config). The key must appear once, holding one
// token: two are InvalidArgument. "authorization" is then ignored (the Transaction Tokens draft leaves
// Authorization to the workload's own credential). It panics on a name
// that is not an HTTP field name, and on Authorization.
func WithTokenHeader(name string) Option {
	name, err := bearer.ParseTokenHeader(name)
	if err != nil {
		panic("grpcauth.WithTokenHeader: " + err.Error())
	}
	return optionFunc(func(c *config) { c.tokenHeader = strings.ToLower(name) })
}
