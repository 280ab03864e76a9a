// Package extauthz is an Envoy external authorization server
// (envoy.service.auth.v3.Authorization/Check over gRPC) on an accesstoken
// validator, for Envoy, Istio and Envoy Gateway: the gateway asks, this
// server validates the call's token (DPoP proofs and certificate-bound
// tokens included) and answers with the identity headers to pass on, or
// with the denial to send back.
//
//	srv := grpc.NewServer()
//	authv3.RegisterAuthorizationServer(srv, extauthz.NewServer(v,
//		extauthz.WithRealm("orders"),
//		extauthz.WithRequiredScopes("orders:read")))
//	srv.Serve(listener)
//
// Check reads the token, the DPoP proof, the method, scheme, host and path
// from the CheckRequest's attributes.request.http, so DPoP needs no
// forwarded headers: Envoy reports the request as the client sent it.
//
// An allowed call is OK with the identity headers X-Auth-Subject,
// X-Auth-Client-Id, X-Auth-Scopes, X-Auth-Roles, X-Auth-Issuer (and those
// of WithClaimHeader) set with OVERWRITE_IF_EXISTS_OR_ADD, and every one the
// token has no value for in headers_to_remove, so that no copy a client
// sent survives; the claims also go to dynamic_metadata for Envoy's later
// filters. A refused call is a denied_response with the status of the
// accesstoken error table (400, 401, 403, 503) and its WWW-Authenticate
// challenge; nothing reaches the backend. Check never returns a gRPC error
// for a decision: with Envoy's failure_mode_allow, an error would let the
// request through, while a 503 denial never does. (failure_mode_allow then
// only matters when this server cannot be reached at all; leave it false.)
package extauthz

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/operation"
	"github.com/tokenguard/accesstoken/txntoken"
)

// Option configures [NewServer].
type Option interface{ apply(*server) }

type optionFunc func(*server)

func (f optionFunc) apply(s *server) { f(s) }

// WithRealm sets the realm attribute of the WWW-Authenticate challenge.
func WithRealm(realm string) Option { return optionFunc(func(s *server) { s.realm = realm }) }

// WithRequiredScopes denies, with 403 insufficient_scope, a token that
// lacks any of scopes.
func WithRequiredScopes(scopes ...string) Option {
	return optionFunc(func(s *server) { s.scopes = append(s.scopes, scopes...) })
}

// WithRequiredRoles denies, with 403, a token that lacks any of roles (see
// accesstoken.Config.RoleClaims).
func WithRequiredRoles(roles ...string) Option {
	return optionFunc(func(s *server) { s.roles = append(s.roles, roles...) })
}

// WithPathScopes requires scopes beside WithRequiredScopes for requests
// whose path (without query) is prefix or starts with prefix followed by
// "/". Several prefixes may match; each adds its scopes. The path is
// compared decoded and cleaned, as Envoy routes it with normalize_path and
// merge_slashes: "/public/../admin", "//admin" and "/%61dmin" fall under
// "/admin".
func WithPathScopes(prefix string, scopes ...string) Option {
	prefix = path.Clean("/" + strings.TrimPrefix(prefix, "/"))
	return optionFunc(func(s *server) { s.pathScopes = append(s.pathScopes, pathRule{prefix, scopes}) })
}

// WithClaimHeader passes the claim at pointer (a JSON Pointer, RFC 6901,
// such as "/tenant" or "/realm_access/roles") as header, like the identity
// headers: set when the token has it, removed otherwise. Arrays are
// space-separated. It panics on an invalid pointer.
func WithClaimHeader(header, pointer string) Option {
	p, err := bearer.ParseClaimPointer(pointer)
	if err != nil {
		panic("extauthz.WithClaimHeader: " + err.Error())
	}
	return optionFunc(func(s *server) { s.claims = append(s.claims, claimHeader{http.CanonicalHeaderKey(header), p}) })
}

// WithTrustedCertificate reads the client certificate of certificate-bound
// tokens (RFC 8705) from attributes.source.certificate, the URL-encoded PEM
// Envoy sends when it terminates mutual TLS (with
// include_peer_certificate). Off by default: a bound token is then refused,
// since nothing vouches for the certificate.
func WithTrustedCertificate() Option { return optionFunc(func(s *server) { s.trustCert = true }) }

// WithResourceMetadata adds resource_metadata="url" to 401 and 403
// challenges (RFC 9728 §5.1).
func WithResourceMetadata(url string) Option {
	return optionFunc(func(s *server) { s.resourceMetadata = url })
}

type pathRule struct {
	prefix string
	scopes []string
}

type claimHeader struct {
	header  string
	pointer bearer.ClaimPointer
}

type server struct {
	authv3.UnimplementedAuthorizationServer
	v                accesstoken.TokenValidator
	realm            string
	scopes, roles    []string
	pathScopes       []pathRule
	claims           []claimHeader
	trustCert        bool
	resourceMetadata string
	ops              *operation.Rules
	minter           txntoken.Minter // WithTransactionToken; nil: none
}

// NewServer returns the Authorization service for v; register it on a
// grpc.Server with authv3.RegisterAuthorizationServer. It panics when v is
// nil.
func NewServer(v accesstoken.TokenValidator, opts ...Option) authv3.AuthorizationServer {
	if v == nil {
		panic("extauthz.NewServer: nil validator")
	}
	s := &server{v: v}
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// Check decides one request. Every decision is an answer, never an error.
func (s *server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	httpReq := req.GetAttributes().GetRequest().GetHttp()
	needs := s.needs(httpReq.GetPath())
	var bad error
	if s.ops != nil {
		var op operation.Operation
		op, bad = s.operation(httpReq)
		needs = s.ops.Needs(needs, op)
	}
	claims, err := s.authenticate(ctx, req, httpReq)
	if err == nil && bad != nil {
		return denyRPC(bad.(*operation.Error)), nil
	}
	if err == nil {
		err = s.authorize(claims, needs)
	}
	var minted string
	if err == nil && s.minter != nil {
		minted, err = s.mint(ctx, req, httpReq, claims)
	}
	if err != nil {
		e := bearer.WithResourceMetadata(accesstoken.AsError(err), s.resourceMetadata)
		if e.StatusCode() == http.StatusUnauthorized && e.Scope == "" && len(needs) > 0 {
			// Name the scopes in the 401 too, as ForwardAuth does, so that a
			// client asks for all of them at once.
			cp := *e
			cp.Scope = strings.Join(needs, " ")
			e = &cp
		}
		return s.deny(e), nil
	}
	return s.allow(claims, minted), nil
}

// header is one request header as Envoy reports it (lower-case names;
// repeated fields joined with ",").
func header(h *authv3.AttributeContext_HttpRequest, name string) string {
	if v, ok := h.GetHeaders()[name]; ok {
		return v
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			if hv.GetValue() != "" {
				return hv.GetValue()
			}
			return string(hv.GetRawValue())
		}
	}
	return ""
}

func (s *server) authenticate(ctx context.Context, req *authv3.CheckRequest, h *authv3.AttributeContext_HttpRequest) (*accesstoken.Claims, error) {
	auth := header(h, "authorization")
	if strings.Contains(auth, ",") {
		// Envoy joins repeated fields with a comma; no credential has one.
		return nil, accesstoken.ErrInvalidRequest
	}
	var values []string
	if auth != "" {
		values = []string{auth}
	}
	scheme, token, err := bearer.FromAuthorization(values)
	if err != nil {
		return nil, err
	}
	rv, ok := s.v.(accesstoken.RequestValidator)
	if !ok {
		if scheme != bearer.SchemeBearer {
			return nil, accesstoken.ErrNoToken
		}
		return s.v.Validate(ctx, token)
	}
	r := &accesstoken.Request{Scheme: scheme, Token: token, Method: h.GetMethod()}
	if proof := header(h, "dpop"); proof != "" || strings.EqualFold(scheme, bearer.SchemeDPoP) {
		r.DPoPProof = proof
		r.URL = targetURL(h)
	}
	if s.trustCert {
		if pem := req.GetAttributes().GetSource().GetCertificate(); pem != "" {
			r.ClientCertificate, _ = bearer.ParseCertificateHeader(pem) // unreadable counts as none
		}
	}
	return rv.ValidateRequest(ctx, r)
}

// targetURL is the URL the client addressed, for a DPoP proof's htu:
// scheme and host as Envoy saw them, the path without query.
func targetURL(h *authv3.AttributeContext_HttpRequest) string {
	scheme := strings.ToLower(h.GetScheme())
	if scheme != "https" {
		scheme = "http"
	}
	path := h.GetPath()
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return scheme + "://" + h.GetHost() + path
}

// needs is what a request for path requires: WithRequiredScopes and every
// WithPathScopes rule its path falls under, the path compared decoded and
// cleaned as a router would route it ("/a/../admin" and "/%61dmin" are
// "/admin"); a path that cannot be read needs every rule's scopes.
func (s *server) needs(raw string) []string {
	scopes := s.scopes
	if len(s.pathScopes) == 0 {
		return scopes
	}
	p, known := "", false
	if u, err := url.ParseRequestURI(raw); err == nil && strings.HasPrefix(u.Path, "/") {
		p, known = path.Clean(u.Path), true
	}
	for _, r := range s.pathScopes {
		if !known || p == r.prefix || strings.HasPrefix(p, strings.TrimSuffix(r.prefix, "/")+"/") {
			scopes = append(scopes[:len(scopes):len(scopes)], r.scopes...)
		}
	}
	return scopes
}

func (s *server) authorize(c *accesstoken.Claims, scopes []string) error {
	if len(scopes) > 0 {
		if err := accesstoken.RequireScopes(c, scopes...); err != nil {
			return err
		}
	}
	if len(s.roles) > 0 {
		return accesstoken.RequireRoles(c, s.roles...)
	}
	return nil
}

func headerOption(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// The identity headers, in the order of their values in allow: the names
// httpauth.ForwardAuth sets, so that a service behind either reads the same.
var identityHeaders = [...]string{httpauth.HeaderSubject, httpauth.HeaderClientID, httpauth.HeaderScopes, httpauth.HeaderRoles, httpauth.HeaderIssuer}

func (s *server) allow(c *accesstoken.Claims, minted string) *authv3.CheckResponse {
	values := [...]string{bearer.IdentityValue(c.Subject), bearer.IdentityValue(c.ClientID), bearer.IdentityList(c.Scopes), bearer.IdentityList(c.Roles), bearer.IdentityValue(c.Issuer)}
	ok := &authv3.OkHttpResponse{}
	add := func(name, value string) {
		if value != "" {
			ok.Headers = append(ok.Headers, headerOption(name, value))
		} else {
			ok.HeadersToRemove = append(ok.HeadersToRemove, strings.ToLower(name))
		}
	}
	for i, name := range identityHeaders {
		add(name, values[i])
	}
	if len(s.claims) > 0 {
		doc := bearer.Payload(c)
		for _, ch := range s.claims {
			add(ch.header, ch.pointer.Value(doc))
		}
	}
	if minted != "" {
		ok.Headers = append(ok.Headers, headerOption(txntoken.Header, minted)) // overwrites the client's
	}
	if n := bearer.DPoPNonce(s.v); n != "" {
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, headerOption("DPoP-Nonce", n))
	}
	meta := &structpb.Struct{Fields: map[string]*structpb.Value{
		"sub": structpb.NewStringValue(c.Subject), "client_id": structpb.NewStringValue(c.ClientID),
		"iss": structpb.NewStringValue(c.Issuer), "scopes": stringList(c.Scopes), "roles": stringList(c.Roles),
	}}
	return &authv3.CheckResponse{
		Status:          &status.Status{Code: 0},
		HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: ok},
		DynamicMetadata: meta,
	}
}

func stringList(l []string) *structpb.Value {
	vs := make([]*structpb.Value, len(l))
	for i, s := range l {
		vs[i] = structpb.NewStringValue(s)
	}
	return structpb.NewListValue(&structpb.ListValue{Values: vs})
}

// gRPC codes of the decisions (google.rpc.Code).
const (
	codeInvalidArgument  = 3
	codePermissionDenied = 7
	codeUnavailable      = 14
	codeUnauthenticated  = 16
)

func (s *server) deny(e *accesstoken.Error) *authv3.CheckResponse {
	st := e.StatusCode()
	denied := &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(st)},
		Headers: []*corev3.HeaderValueOption{headerOption("Cache-Control", "no-store")},
		Body:    http.StatusText(st) + "\n",
	}
	if ch := e.Challenge(s.realm); ch != "" {
		denied.Headers = append(denied.Headers, headerOption("WWW-Authenticate", ch))
	}
	if e.DPoPNonce != "" {
		denied.Headers = append(denied.Headers, headerOption("DPoP-Nonce", e.DPoPNonce))
	}
	code := int32(codeUnauthenticated)
	switch st {
	case http.StatusBadRequest:
		code = codeInvalidArgument
	case http.StatusForbidden:
		code = codePermissionDenied
	case http.StatusServiceUnavailable:
		code = codeUnavailable
	}
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: code, Message: e.Description},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
	}
}
