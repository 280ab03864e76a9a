// Package bearer finds the bearer token of a request (RFC 6750 §2) for the
// HTTP-based adapters, and reads an Authorization value for all of them, so
// that every transport accepts and refuses exactly the same requests.
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
)

func invalidRequest(cause error) error {
	return errors.Join(accesstoken.ErrInvalidRequest, cause)
}

// Authorization schemes, as Request.Scheme carries them.
const (
	SchemeBearer = "Bearer"
	SchemeDPoP   = "DPoP"
)

// FromAuthorization reads the values of an Authorization header (or gRPC
// "authorization" metadata). It returns the scheme ("Bearer" or "DPoP") and
// the token, both "" when no value uses either scheme, or an error matching
// accesstoken.ErrInvalidRequest for more than one value or a malformed one.
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
		return "", "", nil // Basic, ...: no access token
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", "", invalidRequest(errBadAuthHeader)
	}
	return scheme, tok, nil
}

// FromRequest finds the one access token of r: in the Authorization header
// (Bearer or DPoP), and when allowed in the access_token form parameter (RFC
// 6750 §2.2) or query parameter (§2.3), which are Bearer. No token gives
// accesstoken.ErrNoToken; a token in two places, or a malformed one,
// accesstoken.ErrInvalidRequest.
func FromRequest(r *http.Request, form, query bool) (scheme, token string, err error) {
	var found []string
	scheme, tok, err := FromAuthorization(r.Header.Values("Authorization"))
	if err != nil {
		return "", "", err
	}
	if tok != "" {
		found = append(found, tok)
	}
	if query {
		found = append(found, r.URL.Query()["access_token"]...)
	}
	if form && r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
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

// Options are an HTTP adapter's settings for reading a request.
type Options struct {
	Form, Query bool // RFC 6750 §2.2 and §2.3 token locations
	Optional    bool // a request without any token passes, without claims
	Target      Target
}

// Authenticate is the flow every HTTP-based adapter runs: find the token of
// r (see FromRequest), validate it with v under ctx, and return ctx with the
// claims. A validator that is an accesstoken.RequestValidator gets the whole
// request (scheme, DPoP proof, URL, client certificate); any other gets the
// token, and only under the Bearer scheme. With o.Optional, a request
// without any token gets ctx back unchanged; a token that is present is
// validated all the same.
func Authenticate(ctx context.Context, r *http.Request, v accesstoken.TokenValidator, o *Options) (context.Context, error) {
	scheme, token, err := FromRequest(r, o.Form, o.Query)
	if o.Optional && errors.Is(err, accesstoken.ErrNoToken) && r.Header.Get("DPoP") == "" {
		return ctx, nil
	}
	var claims *accesstoken.Claims
	if rv, ok := v.(accesstoken.RequestValidator); ok {
		if err != nil && !errors.Is(err, accesstoken.ErrNoToken) {
			return nil, err
		}
		// No token goes to the validator too: its answer carries the DPoP
		// challenge when it accepts DPoP.
		claims, err = rv.ValidateRequest(ctx, o.Target.Request(r, scheme, token))
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

// Nonce is v's current DPoP nonce, for a DPoP-Nonce header on every response
// (RFC 9449 §8.2), or "" when v requires none.
func Nonce(v accesstoken.TokenValidator) string {
	if n, ok := v.(interface{ DPoPNonce() string }); ok {
		return n.DPoPNonce()
	}
	return ""
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

// WithResourceMetadata returns e with the RFC 9728 resource_metadata
// attribute set for its challenge when url is set and e is a 401 or 403;
// a copy, since e may be shared by a cache.
func WithResourceMetadata(e *accesstoken.Error, url string) *accesstoken.Error {
	if url == "" || (e.StatusCode() != http.StatusUnauthorized && e.StatusCode() != http.StatusForbidden) {
		return e
	}
	cp := *e
	cp.ResourceMetadata = url
	return &cp
}
