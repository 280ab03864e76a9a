package httpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/txntoken"
)

// WithTransactionToken makes the gateway mint a Transaction Token
// (txntoken) for every request it lets through, with m (a txntoken.Signer
// or Exchanger), so that the services behind verify who the caller is
// rather than trust identity headers:
//
//   - [ForwardAuth] answers 200 with a Txn-Token header, which the gateway
//     copies onto the request it forwards, replacing any the client sent
//     (nginx: auth_request_set and proxy_set_header; the docs give it);
//   - [Middleware] sets Txn-Token on the request before the next handler,
//     replacing any the client sent, and [ForwardIdentity] keeps it on the
//     outgoing request (and removes a client's when none was minted).
//
// The token's "rctx" is the client's address (a trusted proxy's
// forwarding headers believed), the scheme it used, the method and path
// of its request (the original request's, for ForwardAuth, from a trusted
// proxy), and "dpop" or "bearer" for how its access token was presented;
// nothing secret. A token that cannot be minted (the Transaction Token
// Service down) makes the answer 503: a request never goes through without
// it.
func WithTransactionToken(m txntoken.Minter) Option {
	return optionFunc(func(c *config) { c.minter = m })
}

type mintedKey struct{}

var errMint = errors.New("the Transaction Token could not be minted")

// mint makes the Transaction Token of r, whose claims passed; forward
// says r is a gateway's subrequest (ForwardAuth).
func (c *config) mint(r *http.Request, claims *accesstoken.Claims, forward bool) (string, error) {
	scheme, token, _ := c.read.Token(r)
	rc := txntoken.RequestContext{IP: c.read.ClientIP(r.RemoteAddr, r.Header), TokenBinding: "bearer"}
	if strings.EqualFold(scheme, bearer.SchemeDPoP) {
		rc.TokenBinding = "dpop"
	}
	if target := c.read.TargetURL(r.RemoteAddr, r.TLS != nil, r.Host, "/", r.Header); strings.HasPrefix(target, "https:") {
		rc.Transport = "https"
	} else {
		rc.Transport = "http"
	}
	if forward {
		if p, ok := c.forwardedPath(r); ok {
			rc.Path = p
			rc.Method = c.forwardedMethod(r)
		}
	} else {
		rc.Method, rc.Path = r.Method, r.URL.Path
	}
	tok, err := c.minter.Mint(r.Context(), txntoken.Request{AccessToken: token, Claims: claims, Context: rc})
	if err != nil {
		return "", accesstoken.AsError(fmt.Errorf("%w: %w: %w", accesstoken.ErrUnavailable, errMint, err))
	}
	return tok, nil
}

// forwardedMethod is the original request's method from a trusted proxy's
// X-Forwarded-Method or X-Original-Method; "" when unknown.
func (c *config) forwardedMethod(r *http.Request) string {
	for _, name := range [...]string{"X-Forwarded-Method", "X-Original-Method"} {
		if m := r.Header.Get(name); m != "" && len(m) <= 16 && strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == "" {
			return strings.ToUpper(m)
		}
	}
	return ""
}

// mintedToken is the Transaction Token Middleware minted for the request
// of ctx.
func mintedToken(ctx context.Context) (string, bool) {
	tok, ok := ctx.Value(mintedKey{}).(string)
	return tok, ok
}
