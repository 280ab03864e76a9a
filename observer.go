package accesstoken

import (
	"context"
	"time"
)

// An Observer sees what a validator does, for metrics and traces: each
// validation once it is decided, and each call it makes to the
// authorization server (discovery, JWKS, introspection) or to a [Store].
// The otelaccesstoken module implements it for OpenTelemetry; any other
// telemetry system can implement these two methods.
//
// Set it as Config.Observer. Under a [MultiIssuer] a validation is reported
// to the Observer of the issuer that judged the token, and one that reached
// no issuer (a malformed token, an issuer that is not trusted) to the
// Observer of the first listed issuer that has one.
//
// Nothing an Observer receives contains a token, a secret or text chosen by
// the client: issuers, URLs and reasons come from the configuration, the
// authorization server's metadata or a fixed list. Err values are the
// package's errors, safe to log. Methods are called on the validating
// goroutine or on the validator's own background goroutines, concurrently,
// and must return quickly.
type Observer interface {
	// Validated reports one validation (Validate or ValidateRequest of a
	// Validator or a MultiIssuer), with the context of the request.
	Validated(ctx context.Context, v Validation)

	// Call reports the start of a call; the validator calls end with the
	// outcome when the call is over, exactly once. The returned context
	// (ctx, or one derived from it, for instance carrying a span) is the
	// one the call runs with, so that an instrumented HTTP client or store
	// sees it. ctx is the context of the request that caused the call, or
	// a background one for the validator's own refreshes; its deadline is
	// not the call's.
	Call(ctx context.Context, c Call) (callCtx context.Context, end func(err error))
}

// Validation describes a validation for an [Observer].
type Validation struct {
	// Issuer is the Config.Issuer of the validator that judged the token;
	// "" when no issuer was reached.
	Issuer string

	// TokenKind is "jwt" for a token shaped as a JWS, "opaque" for any
	// other token and "" when the request had none.
	TokenKind string

	// Outcome is "accepted", "rejected" (the token or the request is
	// refused: 400, 401) or "unavailable" (the validator could not decide:
	// 503).
	Outcome string

	// Reason is "" when the token was accepted and otherwise one of a fixed
	// set of words: "no_token", "invalid_request", "too_large",
	// "malformed", "algorithm", "header", "type", "unknown_key",
	// "signature", "issuer", "audience", "expired", "not_yet_valid",
	// "issued_in_future", "inactive", "opaque", "encrypted", "revoked",
	// "claim" (Profile.RequiredClaims or Profile.Check), "binding" (DPoP or certificate binding), "dpop_proof",
	// "dpop_replay", "dpop_nonce", "insufficient_scope",
	// "insufficient_user_authentication", "invalid" (any other refusal) or
	// "unavailable".
	Reason string

	// Cache says where the token's answer came from when it needed no
	// work (even if the request then failed, on its DPoP proof say):
	// "verified" (the verified-token cache), "introspection" (this
	// process's introspection cache), "shared" (an answer another replica
	// stored, IntrospectionConfig.Store); "" otherwise.
	Cache string

	// Duration is how long the validation took.
	Duration time.Duration

	// Err is the refusal, nil when the token was accepted.
	Err error
}

// Call describes a call a validator makes, for an [Observer].
type Call struct {
	// Kind is "discovery" (the issuer's metadata), "jwks" (a key fetch;
	// its outcome is a key refresh), "introspection" (RFC 7662) or
	// "store" (a [Store] call).
	Kind string

	// Issuer is the Config.Issuer of the validator making the call.
	Issuer string

	// URL is the endpoint of discovery, JWKS and introspection calls
	// (for discovery, the issuer: the metadata URLs follow from it); "" for
	// store calls.
	URL string

	// Operation is, for store calls, "get", "set" or "set_if_absent".
	Operation string

	// Purpose is, for store calls, "dpop_replay", "revocation" or
	// "introspection".
	Purpose string
}

// Call kinds.
const (
	callDiscovery     = "discovery"
	callJWKS          = "jwks"
	callIntrospection = "introspection"
	callStore         = "store"
)

// Validation outcomes.
const (
	outcomeAccepted    = "accepted"
	outcomeRejected    = "rejected"
	outcomeUnavailable = "unavailable"
)

// Where an answer came from (Validation.Cache), carried on Claims and
// Errors as a small number.
const (
	viaWork uint8 = iota
	viaVerified
	viaIntrospection
	viaShared
)

var viaNames = [...]string{"", "verified", "introspection", "shared"}

func noEnd(error) {}

// startCall reports a call to o, when there is one.
func startCall(ctx context.Context, o Observer, c Call) (context.Context, func(error)) {
	if o == nil {
		return ctx, noEnd
	}
	return o.Call(ctx, c)
}

// tokenKind is Validation.TokenKind.
func tokenKind(token string) string {
	switch {
	case token == "":
		return ""
	case isJWS(token):
		return "jwt"
	}
	return "opaque"
}

// observe reports a validation to o; start is when it began.
func observe(ctx context.Context, o Observer, issuer, token string, start time.Time, c *Claims, e *Error) {
	val := Validation{Issuer: issuer, TokenKind: tokenKind(token), Outcome: outcomeAccepted, Duration: time.Since(start)}
	if e != nil {
		val.Err = e
		val.Reason = e.reason()
		val.Outcome = outcomeRejected
		if e.kind == ErrUnavailable {
			val.Outcome = outcomeUnavailable
		}
	}
	// The token's source, even when the request failed later (a DPoP
	// proof, a binding).
	switch {
	case c != nil:
		val.Cache = viaNames[c.via]
	case e != nil:
		val.Cache = viaNames[e.via]
	}
	o.Validated(ctx, val)
}

// reasons maps the descriptions of ErrInvalidToken to Validation.Reason.
var reasons = map[string]string{
	descMalformed: "malformed", descTooLarge: "too_large", descAlgorithm: "algorithm",
	descUnknownKey: "unknown_key", descSignature: "signature", descType: "type", descHeader: "header",
	descIssuer: "issuer", descAudience: "audience", descExpired: "expired", descNotYetValid: "not_yet_valid",
	descIssuedInFuture: "issued_in_future", descInactive: "inactive", descEncrypted: "encrypted", descJWE: "encrypted",
	descOpaque: "opaque", descRevoked: "revoked", descClaim: "claim",
	descBound: "binding", descDPoPOff: "binding", descBearerRefused: "binding", descNotDPoPBound: "binding",
	descDPoPBound: "binding", descKeyMismatch: "binding", descCertMismatch: "binding", descCnfUnknown: "binding",
}

// reason is Validation.Reason for e.
func (e *Error) reason() string {
	switch e.kind {
	case ErrNoToken:
		return "no_token"
	case ErrUnavailable:
		return "unavailable"
	case ErrInvalidRequest:
		return "invalid_request"
	case ErrUseDPoPNonce:
		return "dpop_nonce"
	case ErrInvalidDPoPProof:
		if e.replay {
			return "dpop_replay"
		}
		return "dpop_proof"
	case ErrInsufficientUserAuthentication:
		return "insufficient_user_authentication"
	case ErrInsufficientScope:
		return "insufficient_scope"
	}
	if r, ok := reasons[e.Description]; ok {
		return r
	}
	return "invalid"
}
