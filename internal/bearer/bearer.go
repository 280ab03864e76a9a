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

// FromAuthorization reads the values of an Authorization header (or gRPC
// "authorization" metadata). It returns the token, "" when no value uses the
// Bearer scheme, or an error matching accesstoken.ErrInvalidRequest for more
// than one value or a malformed Bearer value.
func FromAuthorization(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalidRequest(errTwoHeaders)
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil // Basic, DPoP, ...: no bearer token
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", invalidRequest(errBadAuthHeader)
	}
	return tok, nil
}

// FromRequest finds the one bearer token of r: in the Authorization header,
// and when allowed in the access_token form parameter (RFC 6750 §2.2) or
// query parameter (§2.3). No token gives accesstoken.ErrNoToken; a token in
// two places, or a malformed one, accesstoken.ErrInvalidRequest.
func FromRequest(r *http.Request, form, query bool) (string, error) {
	var found []string
	tok, err := FromAuthorization(r.Header.Values("Authorization"))
	if err != nil {
		return "", err
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
				return "", invalidRequest(errBadForm)
			}
			found = append(found, r.PostForm["access_token"]...)
		}
	}
	switch len(found) {
	case 0:
		return "", accesstoken.ErrNoToken
	case 1:
		if found[0] == "" {
			return "", invalidRequest(errEmpty)
		}
		return found[0], nil
	default:
		return "", invalidRequest(errTwoTokens)
	}
}

// Authenticate is the flow every HTTP-based adapter runs: find the token of
// r (see FromRequest), validate it with v under ctx, and return ctx with the
// claims. With optional set, a request without any token gets ctx back
// unchanged; a token that is present is validated all the same.
func Authenticate(ctx context.Context, r *http.Request, v accesstoken.TokenValidator, form, query, optional bool) (context.Context, error) {
	token, err := FromRequest(r, form, query)
	if err != nil {
		if optional && errors.Is(err, accesstoken.ErrNoToken) {
			return ctx, nil
		}
		return nil, err
	}
	claims, err := v.Validate(ctx, token)
	if err != nil {
		return nil, err
	}
	return accesstoken.NewContext(ctx, claims), nil
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
