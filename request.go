package accesstoken

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// This file is the one place every transport reaches for the checks that
// need more than the token: the authorization scheme, DPoP proofs (RFC 9449)
// and certificate binding (RFC 8705). Adapters only build the Request.

// Request is what a transport knows about one call.
type Request struct {
	// Scheme is the authorization scheme as sent: "Bearer" or "DPoP",
	// compared case-insensitively. Empty means Bearer.
	Scheme string

	// Token is the access token. Empty means the request carried none.
	Token string

	// DPoPProof is the DPoP header's value; empty when absent. An adapter
	// that sees the header twice joins the values with a comma, which no
	// proof can contain, so that the request is refused.
	DPoPProof string

	// Method is the HTTP method (gRPC: "POST"), compared with the proof's
	// "htm" exactly.
	Method string

	// URL is the target URI as the client addressed it: scheme, host and
	// path (a query and fragment are ignored). Compared with the proof's
	// "htu" (RFC 9449 §4.3).
	URL string

	// ClientCertificate is the client's TLS certificate; nil without mutual
	// TLS. A token bound to a certificate (RFC 8705) needs it.
	ClientCertificate *x509.Certificate
}

// RequestValidator is a [TokenValidator] that also checks what binds a token
// to its request: DPoP proofs and client certificates. Adapters call
// ValidateRequest when their validator has it.
type RequestValidator interface {
	TokenValidator
	ValidateRequest(ctx context.Context, r *Request) (*Claims, error)
}

var _ RequestValidator = (*Validator)(nil)

// ValidateRequest checks the token of r as [Validator.Validate] does and,
// beyond it, what binds the token to the request:
//
//   - a token with "cnf" "x5t#S256" is accepted only with the client
//     certificate it names (RFC 8705 §3), whatever Config.DPoP says;
//   - a token with "cnf" "jkt" only under the DPoP scheme, with a valid proof
//     by that key (RFC 9449 §4.3, §7); both checks apply to a token with both;
//   - the DPoP scheme needs Config.DPoP, a proof and a DPoP-bound token;
//     with DPoPConfig.Required a bearer token is refused;
//   - a "cnf" with no member this package supports is refused.
//
// Opaque tokens whose introspection answer carries "cnf" are bound the same
// way. Failures match [ErrInvalidToken], [ErrInvalidDPoPProof],
// [ErrUseDPoPNonce], [ErrInvalidRequest] (a scheme other than Bearer or DPoP),
// [ErrNoToken] or [ErrUnavailable] (also when the replay cache cannot answer).
func (v *Validator) ValidateRequest(ctx context.Context, r *Request) (*Claims, error) {
	var start time.Time
	if v.observer != nil {
		start = time.Now()
	}
	dpop, e := requestScheme(r)
	if e == nil && r.Token == "" {
		e = newError(ErrNoToken, "", nil)
	}
	var c *Claims
	if e == nil {
		c, e = v.validate(ctx, r.Token)
	}
	if e == nil {
		e = v.checkBinding(ctx, r, c, dpop)
	}
	if v.observer != nil {
		observe(ctx, v.observer, v.issuer, r.Token, start, c, e)
	}
	if e != nil {
		return nil, v.dpop.decorate(e, dpop)
	}
	return c, nil
}

// requestScheme reads r.Scheme: dpop is true for the DPoP scheme.
func requestScheme(r *Request) (dpop bool, e *Error) {
	switch {
	case r.Scheme == "" || strings.EqualFold(r.Scheme, "Bearer"):
		return false, nil
	case strings.EqualFold(r.Scheme, "DPoP"):
		return true, nil
	}
	return false, newError(ErrInvalidRequest, descScheme, errors.New("authorization scheme is neither Bearer nor DPoP"))
}

// checkBinding applies the sender-constraint rules to a valid token.
func (v *Validator) checkBinding(ctx context.Context, r *Request, c *Claims, dpop bool) *Error {
	cnf := c.cnf
	if cnf != nil && !cnf.supported() {
		return newError(ErrInvalidToken, descCnfUnknown, errCnfUnsupported)
	}
	if cnf != nil && cnf.x5tS256 != "" {
		if e := checkCertificate(cnf.x5tS256, r.ClientCertificate); e != nil {
			return e
		}
	}
	bound := cnf != nil && cnf.jkt != ""
	switch {
	case dpop && v.dpop == nil:
		return newError(ErrInvalidToken, descDPoPOff, errors.New("the DPoP scheme was used and Config.DPoP is nil"))
	case dpop && !bound:
		return newError(ErrInvalidToken, descNotDPoPBound, errors.New(`the DPoP scheme with a token that has no "cnf" "jkt"`))
	case dpop:
		return v.dpop.checkProof(ctx, r, cnf.jkt, v.now())
	case bound:
		return newError(ErrInvalidToken, descDPoPBound, errors.New("a DPoP-bound token under the Bearer scheme"))
	case v.dpop != nil && v.dpop.cfg.Required:
		return newError(ErrInvalidToken, descBearerRefused, errors.New("a bearer token where DPoPConfig.Required is set"))
	}
	return nil
}

// checkCertificate compares the RFC 8705 §3.1 thumbprint with the SHA-256 of
// the certificate's DER encoding.
func checkCertificate(x5t string, cert *x509.Certificate) *Error {
	if cert == nil {
		return newError(ErrInvalidToken, descCertMismatch, errors.New("a certificate-bound token without a client certificate"))
	}
	sum := sha256.Sum256(cert.Raw)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(x5t)) != 1 {
		return newError(ErrInvalidToken, descCertMismatch, errors.New(`the client certificate does not match "cnf" "x5t#S256"`))
	}
	return nil
}
