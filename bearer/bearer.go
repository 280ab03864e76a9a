// Package bearer is what every accesstoken adapter is built on, exported so
// that an adapter for a framework this project has none for (fiber, a
// company's own router, an RPC system over HTTP) accepts and refuses exactly
// the requests the project's own adapters do.
//
// An adapter does three things, and this package does the part of each that
// must never differ between transports:
//
//  1. Find the access token: [Reader.Token] for an HTTP request (the
//     Authorization header, Bearer or DPoP, and when allowed the RFC 6750
//     form and query parameters), [FromAuthorization] for the Authorization
//     values of any other transport (gRPC metadata, an Envoy check request).
//  2. Validate it: [Reader.Authenticate] builds the [accesstoken.Request]
//     (DPoP proof, the URL the client addressed, the client certificate) and
//     calls the validator; the claims come back in the context, where
//     handlers read them with [accesstoken.FromContext].
//  3. Answer: on success, the current DPoP nonce ([DPoPNonce]); on refusal,
//     the status and headers of the accesstoken error table
//     ([SetRefusalHeaders], [WithResourceMetadata]), written in the
//     framework's own way. The body never carries the cause.
//
// A gateway that passes the verified identity on to the services behind it
// writes the values with [IdentityValue], [IdentityList] and [ClaimPointer],
// as httpauth.ForwardAuth and the Envoy ext_authz server do.
//
// What this package never does: it never writes a response body, never logs,
// and never decides on scopes or roles (accesstoken.RequireScopes and
// RequireRoles do). It depends on the standard library and the core only.
package bearer

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
)

var (
	errTwoTokens     = errors.New("the request carries more than one access token")
	errTwoHeaders    = errors.New("more than one Authorization header")
	errBadAuthHeader = errors.New("malformed Bearer Authorization header")
	errBadForm       = errors.New("unreadable form body")
	errEmpty         = errors.New("empty access_token")
	errTwoFields     = errors.New("the token header appears more than once")
	errBadToken      = errors.New("the token header does not hold one token")
)

func invalidRequest(cause error) error {
	return errors.Join(accesstoken.ErrInvalidRequest, cause)
}

// The authorization schemes, as [accesstoken.Request.Scheme] carries them.
const (
	SchemeBearer = "Bearer" // RFC 6750
	SchemeDPoP   = "DPoP"   // RFC 9449 §7.1
)

// FromAuthorization reads the values of an Authorization header (or gRPC
// "authorization" metadata). It returns the scheme ([SchemeBearer] or
// [SchemeDPoP], whatever the case sent) and the token, both "" when no value
// uses either scheme (Basic, say), or an error matching
// [accesstoken.ErrInvalidRequest] for more than one value or a token that is
// not an RFC 6750 §2.1 b64token.
func FromAuthorization(values []string) (scheme, token string, err error) {
	switch len(values) {
	case 0:
		return "", "", nil
	case 1:
	default:
		return "", "", invalidRequest(errTwoHeaders)
	}
	name, rest, _ := strings.Cut(values[0], " ")
	switch {
	case strings.EqualFold(name, SchemeBearer):
		scheme = SchemeBearer
	case strings.EqualFold(name, SchemeDPoP):
		scheme = SchemeDPoP // RFC 9449 §7.1: the same token68 syntax
	default:
		return "", "", nil
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", "", invalidRequest(errBadAuthHeader)
	}
	return scheme, tok, nil
}

// FromTokenHeader reads the values of a header that holds a token on its
// own, such as Txn-Token (or its gRPC metadata, "txn-token"): "" when there
// is none; an error matching [accesstoken.ErrInvalidRequest] when it
// appears more than once (separate fields, or a comma-separated list) or
// its value is not one RFC 6750 b64token, with no scheme.
func FromTokenHeader(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalidRequest(errTwoFields)
	}
	tok := strings.TrimSpace(values[0])
	if !isB64Token(tok) {
		return "", invalidRequest(errBadToken)
	}
	return tok, nil
}

// Token finds the one access token of r: in the Reader's TokenHeader when
// it names one, otherwise in the Authorization header (Bearer or DPoP), and
// when the Reader allows them in the access_token
// form parameter (RFC 6750 §2.2, reading a form-encoded body) or query
// parameter (§2.3), which are Bearer. No token gives
// [accesstoken.ErrNoToken]; a token in two places, or a malformed one,
// [accesstoken.ErrInvalidRequest].
func (rd *Reader) Token(r *http.Request) (scheme, token string, err error) {
	if rd.TokenHeader != "" {
		tok, err := FromTokenHeader(r.Header.Values(rd.TokenHeader))
		switch {
		case err != nil:
			return "", "", err
		case tok == "":
			return "", "", accesstoken.ErrNoToken
		}
		return SchemeBearer, tok, nil
	}
	var found []string
	scheme, tok, err := FromAuthorization(r.Header.Values("Authorization"))
	if err != nil {
		return "", "", err
	}
	if tok != "" {
		found = append(found, tok)
	}
	if rd.Query {
		found = append(found, r.URL.Query()["access_token"]...)
	}
	if rd.Form && r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err != nil {
				return "", "", invalidRequest(errBadForm)
			}
			found = append(found, r.PostForm["access_token"]...)
		}
	}
	switch len(found) {
	case 0:
		return "", "", accesstoken.ErrNoToken
	case 1:
		if found[0] == "" {
			return "", "", invalidRequest(errEmpty)
		}
		if scheme == "" {
			scheme = SchemeBearer
		}
		return scheme, found[0], nil
	default:
		return "", "", invalidRequest(errTwoTokens)
	}
}

// Authenticate is the flow every HTTP-based adapter runs: it finds the
// token of r ([Reader.Token]), validates it with v under ctx, and returns
// ctx with the claims ([accesstoken.NewContext]). A validator that is an
// [accesstoken.RequestValidator] (a Validator or MultiIssuer) gets the whole
// request ([Reader.Request]: scheme, DPoP proof, URL, client certificate);
// any other, and any validator when the Reader names a TokenHeader, gets
// the token, and only under the Bearer scheme.
//
// With Optional set, a request without any token (and without a DPoP
// proof) gets ctx back unchanged; a token that is present is validated all
// the same. Errors are the validator's, or those of [Reader.Token]: pass
// them to [accesstoken.AsError] for the answer.
func (rd *Reader) Authenticate(ctx context.Context, r *http.Request, v accesstoken.TokenValidator) (context.Context, error) {
	scheme, token, err := rd.Token(r)
	if rd.Optional && errors.Is(err, accesstoken.ErrNoToken) && r.Header.Get("DPoP") == "" {
		return ctx, nil
	}
	var claims *accesstoken.Claims
	if rv, ok := v.(accesstoken.RequestValidator); ok && rd.TokenHeader == "" {
		if err != nil && !errors.Is(err, accesstoken.ErrNoToken) {
			return nil, err
		}
		// No token goes to the validator too: its answer carries the DPoP
		// challenge when it accepts DPoP.
		claims, err = rv.ValidateRequest(ctx, rd.Request(r, scheme, token))
	} else {
		if err == nil && scheme != SchemeBearer {
			err = accesstoken.ErrNoToken // a plain TokenValidator takes bearer tokens only
		}
		if err != nil {
			return nil, err
		}
		claims, err = v.Validate(ctx, token)
	}
	if err != nil {
		return nil, err
	}
	return accesstoken.NewContext(ctx, claims), nil
}

// DPoPNonce is v's current DPoP nonce, for a DPoP-Nonce header on every
// response (RFC 9449 §8.2), or "" when v requires none.
func DPoPNonce(v accesstoken.TokenValidator) string {
	if n, ok := v.(interface{ DPoPNonce() string }); ok {
		return n.DPoPNonce()
	}
	return ""
}

// WithResourceMetadata returns e with the RFC 9728 §5.1 resource_metadata
// attribute set for its challenge when url is not empty and e is a 401 or
// 403; otherwise e itself. It copies: e may be shared by a cache.
func WithResourceMetadata(e *accesstoken.Error, url string) *accesstoken.Error {
	if url == "" || (e.StatusCode() != http.StatusUnauthorized && e.StatusCode() != http.StatusForbidden) {
		return e
	}
	cp := *e
	cp.ResourceMetadata = url
	return &cp
}

// SetRefusalHeaders sets in h the headers every refusal carries:
// WWW-Authenticate with e's challenge under realm ("" for none) when e has
// one, DPoP-Nonce when e carries a nonce, "Cache-Control: no-store" and
// "X-Content-Type-Options: nosniff". The status is e.StatusCode(); the body
// is the adapter's (the status text, or the framework's error format), never
// e's cause.
func SetRefusalHeaders(h http.Header, e *accesstoken.Error, realm string) {
	if challenge := e.Challenge(realm); challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// isB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
