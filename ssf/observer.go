package ssf

import "context"

// An Observer sees the outcome of every SET a [Receiver] received, for
// metrics and audit: the otelaccesstoken module's Observer implements it
// (counting events by type and outcome). Nothing it receives contains the
// SET, a subject or a secret. It is called on the goroutine that processed
// the SET and must return quickly.
type Observer interface {
	SecurityEvent(ctx context.Context, e Event)
}

// Event describes one SET a [Receiver] received, for an [Observer].
type Event struct {
	// Transmitter is Config.Transmitter.
	Transmitter string

	// Type is the event's type in short form: "caep/session-revoked",
	// "caep/credential-change", "caep/token-claims-change",
	// "risc/account-disabled", "risc/account-purged",
	// "risc/credential-compromise", "risc/sessions-revoked",
	// "oauth/token-revoked", "oauth/tokens-revoked", "ssf/verification",
	// "ssf/stream-updated"; "other" for any other type; "" when the SET was
	// refused before its event was read.
	Type string

	// Delivery is "push" (RFC 8935) or "poll" (RFC 8936).
	Delivery string

	// Outcome is "applied" (a revocation was written, or a stream event
	// taken), "ignored" (acknowledged without effect), "refused" (the
	// transmitter is told why) or "unavailable" (the SET could not be
	// processed now: keys or store unreachable; it is not acknowledged, so
	// the transmitter delivers it again).
	Outcome string

	// Reason is a word from a fixed list. Applied: "session", "subject",
	// "token", "verification", "stream_updated". Ignored: "replay" (its jti
	// was processed before, on any replica), "unknown_event",
	// "other_issuer", "unknown_subject", "verification" (a state no Verify
	// waits for). Refused: "authentication" (401), "content_type",
	// "too_large", "no_iat", "too_old", "no_jti", "events" (not exactly one
	// event), "event", "subject", or accesstoken's Validation.Reason of the
	// token checks ("type", "signature", "unknown_key", "algorithm",
	// "issuer", "audience", "malformed", "issued_in_future", ...).
	// Unavailable: "keys", "store", "closed".
	Reason string

	// Err is the cause of a refusal or unavailability, safe to log; nil
	// otherwise.
	Err error
}
