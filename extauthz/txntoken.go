package extauthz

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/bearer"
	"github.com/tokenguard/accesstoken/txntoken"
)

// WithTransactionToken makes the server mint a Transaction Token
// (txntoken) with m (a txntoken.Signer or Exchanger) for every request it
// allows, and set it as the Txn-Token header of the request Envoy forwards,
// replacing any the client sent: the services behind verify it rather than
// trust identity headers. Its "rctx" is the client's address as Envoy saw
// it (attributes.source), the scheme, method and path (without query) of
// the request, and "dpop" or "bearer" for how the access token was
// presented. A token that cannot be minted denies the request with 503:
// it never goes through without one.
func WithTransactionToken(m txntoken.Minter) Option {
	return optionFunc(func(s *server) { s.minter = m })
}

// mint makes the Transaction Token of an allowed request.
func (s *server) mint(ctx context.Context, req *authv3.CheckRequest, h *authv3.AttributeContext_HttpRequest, claims *accesstoken.Claims) (string, error) {
	var values []string
	if auth := header(h, "authorization"); auth != "" {
		values = []string{auth}
	}
	scheme, token, _ := bearer.FromAuthorization(values)
	rc := txntoken.RequestContext{TokenBinding: "bearer", Method: strings.ToUpper(h.GetMethod()), Transport: "http"}
	if strings.EqualFold(scheme, bearer.SchemeDPoP) {
		rc.TokenBinding = "dpop"
	}
	if strings.EqualFold(h.GetScheme(), "https") {
		rc.Transport = "https"
	}
	rc.Path = h.GetPath()
	if i := strings.IndexAny(rc.Path, "?#"); i >= 0 {
		rc.Path = rc.Path[:i]
	}
	if a, err := netip.ParseAddr(req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()); err == nil {
		rc.IP = a.Unmap().String()
	}
	tok, err := s.minter.Mint(ctx, txntoken.Request{AccessToken: token, Claims: claims, Context: rc})
	if err != nil {
		return "", fmt.Errorf("%w: the Transaction Token could not be minted: %w", accesstoken.ErrUnavailable, err)
	}
	return tok, nil
}
