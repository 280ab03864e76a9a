package accesstoken

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The sentinels below classify every rejection. Use [errors.Is] on any error
// returned by this package or by an adapter:
//
//	if errors.Is(err, accesstoken.ErrTokenExpired) { ... }
//
// Each maps to one row of the error model: an HTTP status, a
// WWW-Authenticate challenge (RFC 6750 §3) and a gRPC code.
var (
	// ErrNoToken: the request carried no bearer token. HTTP 401 with a bare
	// "Bearer" challenge (RFC 6750 §3.1: no error attribute).
	ErrNoToken = errors.New("accesstoken: no bearer token")

	// ErrInvalidRequest: the request was malformed, for example the token
	// was sent in more than one place. HTTP 400, error="invalid_request".
	ErrInvalidRequest = errors.New("accesstoken: invalid request")

	// ErrInvalidToken: the token is malformed, its signature, algorithm,
	// key, issuer, audience, type or validity period is wrong, or the
	// introspection endpoint said it is not active. HTTP 401,
	// error="invalid_token".
	ErrInvalidToken = errors.New("accesstoken: invalid token")

	// ErrTokenExpired: the token's "exp" has passed. Errors that match it
	// also match ErrInvalidToken.
	ErrTokenExpired = errors.New("accesstoken: token expired")

	// ErrInsufficientScope: the token is good but lacks a required scope.
	// HTTP 403, error="insufficient_scope".
	ErrInsufficientScope = errors.New("accesstoken: insufficient scope")

	// ErrUnavailable: the token could not be checked because the JWKS or
	// introspection endpoint is down, slow, or answered garbage, a security
	// check could not be made (the DPoP replay cache did not answer), or the
	// validator is closed. HTTP 503 without a challenge: the client should
	// retry, not discard its token.
	ErrUnavailable = errors.New("accesstoken: token cannot be checked now")

	// ErrInvalidDPoPProof: the DPoP proof of a request is missing, malformed,
	// not signed by its key, made for another method, URL or token, too old,
	// or replayed (RFC 9449 §4.3). HTTP 401 with a DPoP challenge,
	// error="invalid_dpop_proof".
	ErrInvalidDPoPProof = errors.New("accesstoken: invalid DPoP proof")

	// ErrInsufficientUserAuthentication: the token is good, but the user's
	// authentication is not strong or recent enough for the resource (RFC
	// 9470): HTTP 401, error="insufficient_user_authentication", with
	// acr_values and/or max_age saying what to do again. It does not match
	// ErrInvalidToken: the client should get a new token after a new login,
	// not retry.
	ErrInsufficientUserAuthentication = errors.New("accesstoken: insufficient user authentication")

	// ErrUseDPoPNonce: the DPoP proof lacks the server nonce, or carries an
	// unknown or expired one (RFC 9449 §9). HTTP 401, error="use_dpop_nonce",
	// with a fresh nonce in Error.DPoPNonce for the DPoP-Nonce header.
	ErrUseDPoPNonce = errors.New("accesstoken: DPoP nonce required")
)

// RFC 6750 §3 and RFC 9449 §7.1, §9 error codes.
const (
	codeInvalidRequest    = "invalid_request"
	codeInvalidToken      = "invalid_token"
	codeInsufficientScope = "insufficient_scope"
	codeInvalidDPoPProof  = "invalid_dpop_proof"
	codeUseDPoPNonce      = "use_dpop_nonce"
	codeInsufficientAuthn = "insufficient_user_authentication"
)

// Error is the error behind every rejection. Its exported fields mirror the
// attributes of the RFC 6750 §3 WWW-Authenticate challenge; they hold fixed
// text chosen by this package and are safe to send to a client. Err holds the
// cause, for logs only.
//
// An Error matches one of the package sentinels with [errors.Is]; use
// [errors.As] to get at the fields.
type Error struct {
	// Code is the RFC 6750 §3 "error" attribute: "invalid_request",
	// "invalid_token" or "insufficient_scope", or RFC 9449's
	// "invalid_dpop_proof" or "use_dpop_nonce". It is empty when the request
	// carried no token ([ErrNoToken]) and when the token could not be
	// checked ([ErrUnavailable]).
	Code string

	// Description is the RFC 6750 §3 "error_description" attribute: a fixed
	// sentence that never contains the token or upstream text. May be empty.
	Description string

	// Scope is the RFC 6750 §3 "scope" attribute: the space-delimited scopes
	// the resource needs. Set only with Code "insufficient_scope".
	Scope string

	// ACRValues is the RFC 9470 "acr_values" attribute: the space-separated
	// authentication context classes, one of which the user must log in
	// with. Set only with [ErrInsufficientUserAuthentication], when "acr"
	// did not match.
	ACRValues string

	// MaxAge is the RFC 9470 "max_age" attribute, written in seconds: how
	// recent the user's authentication must be. Set only with
	// [ErrInsufficientUserAuthentication], when "auth_time" was too old or
	// absent.
	MaxAge time.Duration

	// ResourceMetadata is the RFC 9728 §5.1 "resource_metadata" attribute:
	// the URL of the resource's protected resource metadata, written in
	// every challenge when set. Adapters set it on a copy of the error from
	// their WithResourceMetadata option, for 401 and 403 answers.
	ResourceMetadata string

	// DPoPNonce is the value for a DPoP-Nonce response header (RFC 9449
	// §8.1): set with [ErrUseDPoPNonce], and on other rejections when the
	// validator requires nonces. Empty means no header.
	DPoPNonce string

	// Err is the underlying cause, for logs. It is never sent to a client and
	// never contains the token or a secret. May be nil.
	Err error

	kind    error // one of the sentinels
	expired bool  // also matches ErrTokenExpired
	replay  bool  // a DPoP proof seen before, for Validation.Reason
	via     uint8 // where the answer came from, for Validation.Cache

	// The DPoP side of the challenge (RFC 9449 §7.1), set by ValidateRequest
	// when the validator accepts DPoP.
	dpopAlgs   string // space-separated proof algorithms; "" = no DPoP challenge
	dpopFailed bool   // the request used the DPoP scheme: the error goes in the DPoP challenge
	bearerOff  bool   // DPoPConfig.Required: no Bearer challenge
}

func newError(kind error, description string, cause error) *Error {
	e := &Error{Description: description, Err: cause, kind: kind}
	switch kind {
	case ErrInvalidRequest:
		e.Code = codeInvalidRequest
	case ErrInvalidToken:
		e.Code = codeInvalidToken
	case ErrInsufficientScope:
		e.Code = codeInsufficientScope
	case ErrInvalidDPoPProof:
		e.Code = codeInvalidDPoPProof
	case ErrUseDPoPNonce:
		e.Code = codeUseDPoPNonce
	case ErrInsufficientUserAuthentication:
		e.Code = codeInsufficientAuthn
	}
	return e
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the sentinel that classifies e.
func (e *Error) Is(target error) bool {
	return target == e.kind || (e.expired && target == ErrTokenExpired)
}

// cause is what went wrong, as a plain error that matches no sentinel: for
// wrapping an Error inside one of another kind (an unusable signed
// introspection answer is ErrUnavailable, never also ErrInvalidToken).
func (e *Error) cause() error {
	switch {
	case e.Err == nil:
		return errors.New(e.Description)
	case e.Description == "":
		return errors.New(e.Err.Error())
	}
	return errors.New(e.Description + ": " + e.Err.Error())
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status for e: 400, 401, 403 or 503.
func (e *Error) StatusCode() int {
	switch e.kind {
	case ErrInvalidRequest:
		return http.StatusBadRequest
	case ErrInsufficientScope:
		return http.StatusForbidden
	case ErrUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnauthorized
	}
}

// Challenge returns the value of the WWW-Authenticate response header for e
// (RFC 6750 §3), or "" when no challenge is due (503). The realm is optional.
//
// When the validator accepts DPoP, the value holds two challenges joined by a
// comma (RFC 9110 §11.6.1): "Bearer ..." and "DPoP ..., algs=..." (RFC 9449
// §7.1). The error attributes go in the challenge of the scheme the request
// used; with DPoPConfig.Required there is no Bearer challenge.
//
// Every attribute value is reduced to the characters RFC 6750 allows in it
// (printable ASCII without '"' and '\'), so the result can never break the
// header or smuggle text into it.
func (e *Error) Challenge(realm string) string {
	if e.kind == ErrUnavailable {
		return ""
	}
	var b strings.Builder
	if e.dpopAlgs == "" && (e.kind == ErrInvalidDPoPProof || e.kind == ErrUseDPoPNonce) {
		// A DPoP error from a validator that did not say which algorithms
		// it takes (a fake, or a wrapped sentinel): still a DPoP challenge.
		e.writeChallenge(&b, "DPoP", realm, true, "")
		return b.String()
	}
	if !e.bearerOff || e.dpopAlgs == "" {
		e.writeChallenge(&b, "Bearer", realm, e.dpopAlgs == "" || !e.dpopFailed, "")
	}
	if e.dpopAlgs != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		e.writeChallenge(&b, "DPoP", realm, e.dpopFailed || e.bearerOff, e.dpopAlgs)
	}
	return b.String()
}

// writeChallenge writes one challenge: the scheme, the realm, the error
// attributes when withError is set, and algs when not empty.
func (e *Error) writeChallenge(b *strings.Builder, scheme, realm string, withError bool, algs string) {
	b.WriteString(scheme)
	sep := " "
	attr := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		writeChallengeText(b, value)
		b.WriteByte('"')
		sep = ", "
	}
	if realm != "" {
		attr("realm", realm)
	}
	if withError && e.Code != "" {
		attr("error", e.Code)
		if e.Description != "" {
			attr("error_description", e.Description)
		}
		if e.Scope != "" {
			attr("scope", e.Scope)
		}
		if e.ACRValues != "" {
			attr("acr_values", e.ACRValues)
		}
		if e.MaxAge > 0 {
			attr("max_age", strconv.FormatInt(int64(e.MaxAge/time.Second), 10))
		}
	} else if withError && e.Scope != "" {
		// A request without a token, told which scopes to ask for (RFC
		// 6750 §3 allows scope in any challenge; MCP clients read it).
		attr("scope", e.Scope)
	}
	if algs != "" {
		attr("algs", algs)
	}
	if e.ResourceMetadata != "" {
		attr("resource_metadata", e.ResourceMetadata)
	}
}

// writeChallengeText writes s keeping only %x20-21 / %x23-5B / %x5D-7E, the
// characters RFC 6750 §3 allows in error, error_description and scope values.
func writeChallengeText(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
}

// AsError returns err as an [*Error]. A nil err gives nil. An error that
// holds an *Error gives that one; any other error gives a new *Error
// classified by the sentinel it matches: context cancellation and deadline
// errors count as [ErrUnavailable], and an error matching no sentinel counts
// as [ErrInvalidToken], so a failure is never taken for success. Adapters use
// it to turn whatever a [TokenValidator] returns into a response.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, ErrNoToken):
		return newError(ErrNoToken, "", err)
	case errors.Is(err, ErrInvalidRequest):
		return newError(ErrInvalidRequest, descMalformedRequest, err)
	case errors.Is(err, ErrInsufficientScope):
		return newError(ErrInsufficientScope, descInsufficientScope, err)
	case errors.Is(err, ErrInvalidDPoPProof):
		return newError(ErrInvalidDPoPProof, descDPoPProof, err)
	case errors.Is(err, ErrUseDPoPNonce):
		return newError(ErrUseDPoPNonce, descDPoPNonce, err)
	case errors.Is(err, ErrInsufficientUserAuthentication):
		return newError(ErrInsufficientUserAuthentication, descInsufficientAuthn, err)
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newError(ErrUnavailable, "", err)
	case errors.Is(err, ErrTokenExpired):
		e := newError(ErrInvalidToken, descExpired, err)
		e.expired = true
		return e
	default:
		return newError(ErrInvalidToken, descInvalid, err)
	}
}

// Fixed descriptions sent to clients. None of them carries request data.
const (
	descMalformedRequest  = "The request is malformed"
	descInvalid           = "The access token is invalid"
	descMalformed         = "The access token is malformed"
	descTooLarge          = "The access token is too large"
	descAlgorithm         = "The access token is signed with an algorithm that is not accepted"
	descUnknownKey        = "The access token is signed with an unknown key"
	descSignature         = "The access token signature is invalid"
	descType              = "The access token has a type that is not accepted"
	descHeader            = "The access token header is not accepted"
	descIssuer            = "The access token was issued by another issuer"
	descAudience          = "The access token is meant for another audience"
	descClaim             = "The access token has a claim that is not accepted"
	descExpired           = "The access token expired"
	descNotYetValid       = "The access token is not valid yet"
	descIssuedInFuture    = "The access token was issued in the future"
	descInactive          = "The access token is not active"
	descBound             = "The access token is bound to a key; proof of possession is not supported"
	descEncrypted         = "Encrypted access tokens are not supported"
	descJWE               = "The encrypted access token is not accepted"
	descOpaque            = "The access token is not a JWT and cannot be introspected"
	descRevoked           = "The access token was revoked"
	descInsufficientScope = "The access token lacks a required scope"
	descInsufficientRole  = "The access token lacks a required role"
	descInsufficientAuthn = "A stronger or more recent user authentication is required"

	descScheme        = "The authorization scheme is not supported"
	descDPoPOff       = "DPoP is not accepted here"
	descBearerRefused = "The access token must be bound to a DPoP key"
	descNotDPoPBound  = "The access token is not bound to a DPoP key"
	descDPoPBound     = "The access token is bound to a DPoP key and needs the DPoP scheme"
	descKeyMismatch   = "The DPoP proof is signed with a key the access token is not bound to"
	descCertMismatch  = "The access token is bound to another client certificate"
	descCnfUnknown    = "The access token is bound in a way that is not supported"
	descDPoPProof     = "The DPoP proof is invalid"
	descDPoPNonce     = "A fresh DPoP nonce is required"
)
