// Package grpcauth is the gRPC adapter of accesstoken: unary and stream
// server interceptors that take the bearer token from the "authorization"
// metadata, validate it, and put the claims in the handler's context.
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
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/bearer"
)

// Option configures the interceptors.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	realm  string
	scopes map[string][]string // by full method name
	skip   []string            // full method names, or service prefixes ending in "/"
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

// WithoutAuthentication lets calls to the given methods through without a
// token and without claims: health checks, reflection. A name ending in "/"
// ("/grpc.health.v1.Health/") covers every method of that service.
func WithoutAuthentication(methods ...string) Option {
	return optionFunc(func(c *config) { c.skip = append(c.skip, methods...) })
}

func newConfig(opts []Option) *config {
	c := &config{scopes: map[string][]string{}}
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
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
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
func (c *config) authenticate(ctx context.Context, v accesstoken.TokenValidator, method string) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, err := bearer.FromAuthorization(md.Get("authorization"))
	if err == nil && token == "" {
		err = accesstoken.ErrNoToken
	}
	var claims *accesstoken.Claims
	if err == nil {
		claims, err = v.Validate(ctx, token)
	}
	if err == nil {
		err = accesstoken.RequireScopes(claims, c.scopes[method]...)
	}
	if err != nil {
		return nil, c.statusError(ctx, err)
	}
	return accesstoken.NewContext(ctx, claims), nil
}

// statusError maps a rejection to its gRPC status and sets the challenge as
// response header metadata.
func (c *config) statusError(ctx context.Context, err error) error {
	e := accesstoken.AsError(err)
	if challenge := e.Challenge(c.realm); challenge != "" {
		// Fails only outside a server call, where there is no header to set.
		_ = grpc.SetHeader(ctx, metadata.Pairs("www-authenticate", challenge))
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
	return status.Error(code, msg)
}
