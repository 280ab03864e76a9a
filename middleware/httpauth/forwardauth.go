package httpauth

import (
	"context"
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/operation"
	"github.com/tokenguard/accesstoken/txntoken"
)

// The identity headers ForwardAuth sets on every 200, and ForwardIdentity
// removes from what clients send before setting them.
const (
	HeaderSubject  = "X-Auth-Subject"
	HeaderClientID = "X-Auth-Client-Id"
	HeaderScopes   = "X-Auth-Scopes"
	HeaderRoles    = "X-Auth-Roles"
	HeaderIssuer   = "X-Auth-Issuer"
)

// WithRequiredScopes makes [Middleware] and [ForwardAuth] answer 403
// insufficient_scope unless the token holds every one of scopes (and 401
// naming them to a request without a token, with
// [WithCredentialsOptional] too).
func WithRequiredScopes(scopes ...string) Option {
	return optionFunc(func(c *config) { c.scopes = append(c.scopes, scopes...) })
}

// WithRequiredRoles makes [Middleware] and [ForwardAuth] answer 403
// insufficient_scope (no scope attribute) unless the token holds every one
// of roles.
func WithRequiredRoles(roles ...string) Option {
	return optionFunc(func(c *config) { c.roles = append(c.roles, roles...) })
}

// WithClaimHeader makes [ForwardAuth] also set header to the claim that
// pointer (RFC 6901, like "/tenant" or "/realm_access/roles") names, as
// Envoy's claim_to_headers does: a string as is, a number or boolean as
// JSON text, an array of strings space-separated; empty when the claim is
// absent or of another type. Gateways must strip the header from client
// requests like the default ones ([ForwardIdentity] does).
func WithClaimHeader(header, pointer string) Option {
	return optionFunc(func(c *config) { c.claimHeaders = append(c.claimHeaders, claimHeader{header, pointer}) })
}

type claimHeader struct{ header, pointer string }

// ForwardAuth answers the auth subrequest of a gateway (nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz over HTTP) for
// the client request it forwards: 200 with the identity headers
// X-Auth-Subject, X-Auth-Client-Id, X-Auth-Scopes, X-Auth-Roles and
// X-Auth-Issuer (plus those of [WithClaimHeader]), each set, empty when the
// token has nothing for it; or 400, 401, 403 or 503 with the
// WWW-Authenticate challenge (and DPoP-Nonce) and none of them. It answers
// any method. Scope and role lists are space-separated, each item with " "
// and "%" percent-encoded.
//
// The token comes from the subrequest as from any request (WithRealm and
// the token-location options apply). For DPoP, the method and URI of the
// original request come from X-Forwarded-Method / X-Original-Method and
// X-Forwarded-Uri / X-Original-URI, and the scheme and host from the
// forwarding headers, but only from peers named in [WithTrustedProxies].
//
// Only identity the handler writes ever appears in its answer. The gateway
// must still remove identity headers that clients send (the docs give the
// configurations); behind it, a backend may trust these headers only when
// nothing but the gateway can reach it.
func ForwardAuth(v accesstoken.TokenValidator, opts ...Option) http.Handler {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	if cfg.onError == nil {
		cfg.onError = cfg.writeError
	}
	cfg.read.Subrequest = true
	pointers := claimPointers(cfg.claimHeaders)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := cfg.read.Authenticate(context.WithValue(r.Context(), configKey{}, cfg), r, v)
		var original string
		var known bool
		if len(cfg.paths) > 0 {
			original, known = cfg.forwardedPath(r)
		}
		needs := cfg.ops.Needs(cfg.withPaths(cfg.scopes, original, known), operation.FromHeaders(r.Header))
		var claims *accesstoken.Claims
		if err == nil {
			claims, _ = accesstoken.FromContext(ctx)
			err = accesstoken.RequireScopes(claims, needs...)
		}
		if err == nil {
			err = accesstoken.RequireRoles(claims, cfg.roles...)
		}
		var minted string
		if err == nil && cfg.minter != nil {
			minted, err = cfg.mint(r, claims, true)
		}
		h := w.Header()
		if err != nil {
			e := withScopes(bearer.WithResourceMetadata(accesstoken.AsError(err), cfg.resourceMetadata), needs)
			if e.DPoPNonce != "" {
				h.Set("DPoP-Nonce", e.DPoPNonce)
			}
			cfg.onError(w, r, e)
			return
		}
		if n := bearer.DPoPNonce(v); n != "" {
			h.Set("DPoP-Nonce", n)
		}
		setIdentity(h, claims, cfg.claimHeaders, pointers, "no-store")
		if minted != "" {
			h.Set(txntoken.Header, minted)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// ForwardIdentity is for Go gateways, in httputil.ReverseProxy's Rewrite
// behind [Middleware]: it removes from the outgoing request every header
// whose name starts with "X-Auth-", and those of [WithClaimHeader], then
// sets the identity headers of the verified claims in its context (as
// [ForwardAuth] does), or none when there are no claims. So a client can
// never pass off its own X-Auth-Subject as verified. Txn-Token is removed
// too, and set to the one Middleware minted ([WithTransactionToken]).
//
//	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
//		pr.SetURL(backend)
//		httpauth.ForwardIdentity(pr.Out)
//	}}
//	http.ListenAndServe(addr, httpauth.Middleware(v)(proxy))
func ForwardIdentity(out *http.Request, opts ...Option) {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	for name := range out.Header {
		if len(name) >= len("X-Auth-") && strings.EqualFold(name[:len("X-Auth-")], "X-Auth-") {
			out.Header.Del(name)
		}
	}
	for _, ch := range cfg.claimHeaders {
		out.Header.Del(ch.header)
	}
	out.Header.Del(txntoken.Header)
	if tok, ok := mintedToken(out.Context()); ok {
		out.Header.Set(txntoken.Header, tok)
	}
	pointers := claimPointers(cfg.claimHeaders)
	if claims, ok := accesstoken.FromContext(out.Context()); ok {
		setIdentity(out.Header, claims, cfg.claimHeaders, pointers, "")
	}
}

// claimPointers parses the pointers of WithClaimHeader; it panics on an
// invalid one, as a bad pattern makes http.ServeMux.Handle panic.
func claimPointers(chs []claimHeader) []bearer.ClaimPointer {
	pointers := make([]bearer.ClaimPointer, len(chs))
	for i, ch := range chs {
		p, err := bearer.ParseClaimPointer(ch.pointer)
		if err != nil {
			panic("httpauth.WithClaimHeader: " + err.Error())
		}
		pointers[i] = p
	}
	return pointers
}

// setIdentity writes the identity headers of claims into h, and
// Cache-Control when cacheControl is not empty. The values share one
// allocation: this runs on every request a gateway forwards.
func setIdentity(h http.Header, claims *accesstoken.Claims, extra []claimHeader, pointers []bearer.ClaimPointer, cacheControl string) {
	v := [...]string{
		bearer.IdentityValue(claims.Subject), bearer.IdentityValue(claims.ClientID), bearer.IdentityList(claims.Scopes),
		bearer.IdentityList(claims.Roles), bearer.IdentityValue(claims.Issuer), cacheControl,
	}
	vals := v[:] // escapes to the heap once, as the header's backing array
	h[HeaderSubject] = vals[0:1:1]
	h[HeaderClientID] = vals[1:2:2]
	h[HeaderScopes] = vals[2:3:3]
	h[HeaderRoles] = vals[3:4:4]
	h[HeaderIssuer] = vals[4:5:5]
	if cacheControl != "" {
		h["Cache-Control"] = vals[5:6:6]
	}
	if len(pointers) > 0 {
		doc := bearer.Payload(claims)
		for i, p := range pointers {
			h.Set(extra[i].header, p.Value(doc))
		}
	}
}
