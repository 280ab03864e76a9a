// Package mcpauth connects accesstoken to MCP servers written with the
// official Go SDK (github.com/modelcontextprotocol/go-sdk), whose
// authorization spec makes every HTTP MCP server an OAuth 2.0 resource
// server.
//
// [RequireBearerToken] guards the SDK's streamable HTTP handler with this
// library's error model and still hands the SDK the auth.TokenInfo its
// session checks need:
//
//	metadataURL, _ := accesstoken.ResourceMetadataURL(resource)
//	mux.Handle("/mcp", mcpauth.RequireBearerToken(v, httpauth.WithResourceMetadata(metadataURL))(
//		httpauth.RequireScopes("notes")(mcp.NewStreamableHTTPHandler(getServer, nil))))
//	mux.Handle("/.well-known/oauth-protected-resource/mcp", httpauth.ResourceMetadataHandler(metadata))
//
// Tools read the verified claims with accesstoken.FromContext, or the SDK's
// view of them in req.Extra.TokenInfo. [Verifier] is the validator as an
// auth.TokenVerifier, for code that must use the SDK's own middleware.
package mcpauth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// Option configures [RequireBearerToken]. It is httpauth's option, so the
// realm, resource_metadata (httpauth.WithResourceMetadata), the public URL
// and trusted proxies of DPoP, client-certificate headers and the error
// handler are set as for httpauth.Middleware.
type Option = httpauth.Option

// RequireBearerToken returns middleware that validates each request's access
// token with v exactly as httpauth.Middleware does: a rejected request gets
// 400, 401, 403 or 503 with the RFC 6750 challenge (resource_metadata
// included with httpauth.WithResourceMetadata), never the SDK's 500 with an
// error's text, and never reaches next. An accepted one reaches next with
// the claims in its context (accesstoken.FromContext) and the SDK's
// auth.TokenInfo (auth.TokenInfoFromContext), as [Verifier] builds it, so that
// the SDK binds each MCP session to its user and refuses the session to
// anyone else. DPoP-bound tokens (RFC 9449) are accepted too.
//
// Every request is guarded (httpauth.WithStreamGuard): when its token
// expires or is revoked while the request is open, its context is done
// (context.Cause says why), and the SDK ends the streams it serves on that
// request: the GET event stream and a POST answered as an event stream, so
// the client's session or call fails instead of listening on. The SDK does
// not pass the request's end to a tool already running (MCP treats a
// disconnect as no cancellation), so a tool call runs to its end.
// httpauth.WithoutStreamGuard() turns the guard off.
//
// To require scopes of every MCP request, add httpauth.WithRequiredScopes;
// of one tool, prompt, resource or method, [WithOperationScopes]. A token
// without them gets 403 insufficient_scope with every scope the operation
// needs in the challenge, from which the SDK's client asks for them
// (step-up authorization).
func RequireBearerToken(v accesstoken.TokenValidator, opts ...Option) func(http.Handler) http.Handler {
	_, multi := v.(*accesstoken.MultiIssuer)
	// The SDK's middleware is the only way to put its TokenInfo in a
	// context (its key is unexported). It runs after ours, with a verifier
	// that only converts the claims ours has put in the context already.
	bridge := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		c, ok := accesstoken.FromContext(ctx)
		if !ok {
			return nil, auth.ErrInvalidToken // unreachable: only requests with claims get here
		}
		return tokenInfo(c, multi), nil
	}, &auth.RequireBearerTokenOptions{
		// The validator has checked "exp" with its own leeway and
		// accepted introspected tokens without one; the SDK must not
		// decide again by a stricter clock.
		AllowMissingExpiration: true,
		ClockSkew:              100 * 365 * 24 * time.Hour,
	})
	return func(next http.Handler) http.Handler {
		// The SDK's middleware reads "Authorization: Bearer <token>" only.
		// It gets a copy of the request whose header says so, whatever the
		// scheme (DPoP) and without the token; next gets the original header.
		restore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			orig, _ := r.Context().Value(headerKey{}).(http.Header)
			r2 := *r
			r2.Header = orig
			next.ServeHTTP(w, &r2)
		})
		sdk := bridge(restore)
		opts := append([]Option{httpauth.WithStreamGuard()}, opts...)
		return httpauth.Middleware(v, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := accesstoken.FromContext(r.Context()); !ok {
				// httpauth.WithCredentialsOptional: an anonymous request,
				// without TokenInfo.
				next.ServeHTTP(w, r)
				return
			}
			r2 := r.WithContext(context.WithValue(r.Context(), headerKey{}, r.Header))
			r2.Header = r.Header.Clone()
			r2.Header.Set("Authorization", "Bearer verified")
			sdk.ServeHTTP(w, r2)
		}))
	}
}

type headerKey struct{}

// WithOperationScopes requires scopes for one MCP operation (MCP
// 2026-07-28): method is the JSON-RPC method ("tools/call",
// "resources/read", "prompts/get", "tools/list", ...), name the tool or
// prompt name or the resource URI, or an RFC 6570 level-1 template of URIs
// ("file:///{+path}"), and "" for every request of the method. A request
// needs httpauth.WithRequiredScopes's scopes, its method's and those of
// every rule that names it; a token that lacks any gets 403
// insufficient_scope naming them all, a request without one 401 naming
// them all (SEP-2350), and Profile.ScopeImplies applies.
//
// [RequireBearerToken] reads the operation from the JSON-RPC body (at most
// 4 MiB, restored byte for byte for the server) and refuses with 400 and a
// JSON-RPC error a batch, an ambiguous body (duplicate or case-variant
// members) and a body that disagrees with the Mcp-Method or Mcp-Name
// header (-32020), whatever protocol version the client claims, so no tool
// runs that the rules did not see. It is httpauth.WithOperationScopes.
func WithOperationScopes(method, name string, scopes ...string) Option {
	return httpauth.WithOperationScopes(method, name, scopes...)
}

// Verifier returns v as the SDK's auth.TokenVerifier, for
// auth.RequireBearerToken. The auth.TokenInfo it builds has the token's
// scopes, its "exp" as Expiration (zero when absent), every claim in Extra,
// and the subject as UserID; under an *accesstoken.MultiIssuer, where two
// issuers may name different users alike, UserID is the issuer, a space and
// the subject. A token without a subject has an empty UserID, and the SDK
// then binds its sessions to no one. TokenInfo.Scopes are the scopes the
// token carried: the SDK's own scope check (RequireBearerTokenOptions.Scopes)
// compares them exactly and knows nothing of Profile.ScopeImplies; for scope
// hierarchies require scopes with httpauth.WithRequiredScopes or
// [WithOperationScopes] in [RequireBearerToken], or with
// accesstoken.RequireScopes in a tool.
//
// A rejected token gives an error that matches auth.ErrInvalidToken, whose
// text ("invalid token") is all the SDK shows the client, and that unwraps
// to the *accesstoken.Error for logs. When the token cannot be checked
// (accesstoken.ErrUnavailable: keys or introspection out of reach) the error
// does not match auth.ErrInvalidToken, so the SDK answers 500 rather than
// telling the client that a good token is bad; [RequireBearerToken] answers
// 503 instead and has the rest of this library's error model.
//
// The SDK's middleware passes only "Bearer" tokens, so DPoP-bound tokens are
// refused here: use RequireBearerToken for them. When v is an
// accesstoken.RequestValidator, the TLS client certificate of the request
// is checked against certificate-bound tokens (RFC 8705).
func Verifier(v accesstoken.TokenValidator) auth.TokenVerifier {
	_, multi := v.(*accesstoken.MultiIssuer)
	rv, _ := v.(accesstoken.RequestValidator)
	return func(ctx context.Context, token string, req *http.Request) (*auth.TokenInfo, error) {
		var (
			c   *accesstoken.Claims
			err error
		)
		if rv != nil && req != nil {
			ar := &accesstoken.Request{Scheme: "Bearer", Token: token, Method: req.Method}
			if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
				ar.ClientCertificate = req.TLS.PeerCertificates[0]
			}
			c, err = rv.ValidateRequest(ctx, ar)
		} else {
			c, err = v.Validate(ctx, token)
		}
		if err != nil {
			if errors.Is(err, accesstoken.ErrUnavailable) {
				return nil, unavailable{err}
			}
			return nil, rejected{err}
		}
		return tokenInfo(c, multi), nil
	}
}

// rejected is a refused token as the SDK expects it: it matches
// auth.ErrInvalidToken and says no more than that to the client.
type rejected struct{ cause error }

func (rejected) Error() string        { return auth.ErrInvalidToken.Error() }
func (rejected) Is(target error) bool { return target == auth.ErrInvalidToken }
func (e rejected) Unwrap() error      { return e.cause }

// unavailable is a token that could not be checked. Its text is fixed too,
// because the SDK writes it into its 500 answer.
type unavailable struct{ cause error }

func (unavailable) Error() string   { return "token validation unavailable" }
func (e unavailable) Unwrap() error { return e.cause }

// tokenInfo is the SDK's view of c.
func tokenInfo(c *accesstoken.Claims, multi bool) *auth.TokenInfo {
	ti := &auth.TokenInfo{
		Scopes:     c.Scopes,
		Expiration: c.ExpiresAt,
		UserID:     c.Subject,
	}
	if multi && c.Subject != "" {
		ti.UserID = c.Issuer + " " + c.Subject
	}
	var extra map[string]any
	if c.Decode(&extra) == nil {
		ti.Extra = extra
	}
	return ti
}
