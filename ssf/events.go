package ssf

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/bridge"
)

// Event type identifiers: CAEP 1.0 §3, RISC 1.0 §2, the OAuth event types
// of the RISC profile, SSF 1.0 §8.1.4 and §8.1.5.
const (
	caepPrefix  = "https://schemas.openid.net/secevent/caep/event-type/"
	riscPrefix  = "https://schemas.openid.net/secevent/risc/event-type/"
	oauthPrefix = "https://schemas.openid.net/secevent/oauth/event-type/"
	ssfPrefix   = "https://schemas.openid.net/secevent/ssf/event-type/"
)

// effect is what an event type does.
type effect uint8

const (
	effectNone          effect = iota
	effectSession              // a session, else the user: RevokeSession / RevokeSubject
	effectSubject              // the user: RevokeSubject
	effectToken                // a token by jti: RevokeToken
	effectVerification         // SSF verification
	effectStreamUpdated        // SSF stream-updated
)

var effects = map[string]effect{
	caepPrefix + "session-revoked":       effectSession,
	caepPrefix + "credential-change":     effectSubject,
	caepPrefix + "token-claims-change":   effectSubject,
	riscPrefix + "account-disabled":      effectSubject,
	riscPrefix + "account-purged":        effectSubject,
	riscPrefix + "credential-compromise": effectSubject,
	riscPrefix + "sessions-revoked":      effectSubject,
	oauthPrefix + "tokens-revoked":       effectSubject,
	oauthPrefix + "token-revoked":        effectToken,
	ssfPrefix + "verification":           effectVerification,
	ssfPrefix + "stream-updated":         effectStreamUpdated,
}

// EventTypes returns the event types a Receiver acts on, the ones it asks
// for when it creates a stream: CAEP session-revoked, credential-change and
// token-claims-change; RISC account-disabled, account-purged,
// credential-compromise and sessions-revoked; OAuth token-revoked and
// tokens-revoked. (The SSF verification and stream-updated events need no
// asking.)
func EventTypes() []string {
	var out []string
	for t, e := range effects {
		if e != effectVerification && e != effectStreamUpdated {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// shortType is Event.Type for an event type URI.
func shortType(uri string) string {
	if _, ok := effects[uri]; !ok {
		return "other"
	}
	for _, p := range [...]struct{ prefix, name string }{{caepPrefix, "caep/"}, {riscPrefix, "risc/"}, {oauthPrefix, "oauth/"}, {ssfPrefix, "ssf/"}} {
		if rest, ok := strings.CutPrefix(uri, p.prefix); ok {
			return p.name + rest
		}
	}
	return "other"
}

// Outcomes of a SET (Event.Outcome).
const (
	outcomeApplied     = "applied"
	outcomeIgnored     = "ignored"
	outcomeRefused     = "refused"
	outcomeUnavailable = "unavailable"
)

// RFC 8935 §2.4 error codes.
const (
	codeInvalidRequest  = "invalid_request"
	codeInvalidKey      = "invalid_key"
	codeInvalidIssuer   = "invalid_issuer"
	codeInvalidAudience = "invalid_audience"
	codeAuthentication  = "authentication_failed"
)

// Fixed descriptions sent to the transmitter: none echoes the SET.
var descriptions = map[string]string{
	codeInvalidRequest:  "The SET is malformed, of another type, too old, or its event does not conform to its definition",
	codeInvalidKey:      "The SET is not signed with an accepted key and algorithm",
	codeInvalidIssuer:   "The SET was issued by another issuer",
	codeInvalidAudience: "The SET is meant for another audience",
	codeAuthentication:  "The push was not authenticated",
}

// result is what processing one SET came to.
type result struct {
	outcome string
	reason  string
	code    string // RFC 8935 error code when refused
	err     error  // cause, for logs and the Observer
}

func refused(code, reason string, err error) result {
	return result{outcome: outcomeRefused, reason: reason, code: code, err: err}
}

func unavailable(reason string, err error) result {
	return result{outcome: outcomeUnavailable, reason: reason, err: err}
}

const (
	maxSETBytes  = 64 << 10
	storeTimeout = 500 * time.Millisecond
	applyTimeout = 15 * time.Second // a RevokeSubject may wait for another replica's lock
	jtiPrefix    = "ssf-jti:"
)

var errClosed = errors.New("the receiver is closed")

// process verifies one SET and applies its event, and reports the outcome
// to the Observer and the log.
func (r *Receiver) process(ctx context.Context, set, delivery string) result {
	// A revocation under way is finished even when the transmitter hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), applyTimeout)
	defer cancel()
	ev := Event{Transmitter: r.cfg.Transmitter, Delivery: delivery}
	res := r.handle(ctx, set, &ev)
	ev.Outcome, ev.Reason, ev.Err = res.outcome, res.reason, res.err
	switch res.outcome {
	case outcomeRefused:
		r.logger.Warn("ssf: SET refused", "transmitter", r.cfg.Transmitter, "delivery", delivery, "type", ev.Type, "code", res.code, "reason", res.reason, "error", res.err)
	case outcomeUnavailable:
		r.logger.Error("ssf: SET not processed; the transmitter will deliver it again", "transmitter", r.cfg.Transmitter, "delivery", delivery, "type", ev.Type, "reason", res.reason, "error", res.err)
	default:
		r.logger.Info("ssf: SET "+res.outcome, "transmitter", r.cfg.Transmitter, "delivery", delivery, "type", ev.Type, "reason", res.reason)
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer.SecurityEvent(ctx, ev)
	}
	return res
}

func (r *Receiver) handle(ctx context.Context, set string, ev *Event) result {
	select {
	case <-r.stop:
		return unavailable("closed", errClosed)
	default:
	}
	if len(set) > maxSETBytes {
		return refused(codeInvalidRequest, "too_large", fmt.Errorf("a SET of more than %d bytes", maxSETBytes))
	}
	c, err := r.state.Load().verifier.Validate(ctx, set)
	if err != nil {
		if errors.Is(err, accesstoken.ErrUnavailable) {
			return unavailable("keys", err)
		}
		reason := bridge.Reason(err)
		code := codeInvalidRequest
		switch reason {
		case "opaque", "encrypted":
			reason = "malformed" // not a JWS
		case "signature", "unknown_key", "algorithm":
			code = codeInvalidKey
		case "issuer":
			code = codeInvalidIssuer
		case "audience":
			code = codeInvalidAudience
		}
		return refused(code, reason, err)
	}
	var top map[string]json.RawMessage
	if err := c.Decode(&top); err != nil {
		return refused(codeInvalidRequest, "malformed", err)
	}
	now := r.now()
	switch {
	case c.IssuedAt.IsZero():
		return refused(codeInvalidRequest, "no_iat", errors.New(`the SET has no "iat"`))
	case now.Sub(c.IssuedAt) > r.maxAge:
		return refused(codeInvalidRequest, "too_old", fmt.Errorf("issued at %s, more than %v ago", c.IssuedAt.Format(time.RFC3339), r.maxAge))
	case c.ID == "":
		return refused(codeInvalidRequest, "no_jti", errors.New(`the SET has no "jti"`))
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(top["events"], &events); err != nil || events == nil {
		return refused(codeInvalidRequest, "events", errors.New(`"events" is not an object`))
	}
	if len(events) != 1 {
		return refused(codeInvalidRequest, "events", fmt.Errorf("the SET holds %d events; SSF allows exactly one", len(events)))
	}
	var typ string
	var payload map[string]json.RawMessage
	for t, raw := range events {
		typ = t
		if err := json.Unmarshal(raw, &payload); err != nil || payload == nil {
			return refused(codeInvalidRequest, "events", errors.New("the event is not an object"))
		}
	}
	ev.Type = shortType(typ)

	key := jtiKey(c.Issuer, c.ID)
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	_, seen, err := r.store.Get(sctx, key)
	cancel()
	switch {
	case err != nil:
		return unavailable("store", fmt.Errorf("reading the SET's jti record: %w", err))
	case seen:
		return result{outcome: outcomeIgnored, reason: "replay"}
	}
	res := r.apply(ctx, effects[typ], payload, top, c.IssuedAt)
	if res.outcome != outcomeApplied && res.outcome != outcomeIgnored {
		return res
	}
	sctx, cancel = context.WithTimeout(ctx, storeTimeout)
	_, err = r.store.SetIfAbsent(sctx, key, []byte{'1'}, c.IssuedAt.Add(r.maxAge+futureLeeway))
	cancel()
	if err != nil {
		return unavailable("store", fmt.Errorf("recording the SET's jti: %w", err))
	}
	return res
}

// jtiKey is the store key of a SET's jti: hashed, per issuer.
func jtiKey(iss, jti string) string {
	h := sha256.New()
	h.Write([]byte(iss))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return jtiPrefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// apply carries out the event.
func (r *Receiver) apply(ctx context.Context, eff effect, payload, top map[string]json.RawMessage, iat time.Time) result {
	switch eff {
	case effectNone:
		return result{outcome: outcomeIgnored, reason: "unknown_event"}
	case effectVerification:
		var state string
		if raw, ok := payload["state"]; ok {
			if err := json.Unmarshal(raw, &state); err != nil {
				return refused(codeInvalidRequest, "event", errors.New(`the verification event's "state" is not a string`))
			}
		}
		r.mu.Lock()
		ch := r.waiting[state]
		delete(r.waiting, state)
		r.mu.Unlock()
		if ch == nil {
			return result{outcome: outcomeIgnored, reason: "verification"}
		}
		close(ch)
		return result{outcome: outcomeApplied, reason: "verification"}
	case effectStreamUpdated:
		var st StreamStatus
		if json.Unmarshal(payload["status"], &st.Status) != nil || st.Status == "" {
			return refused(codeInvalidRequest, "event", errors.New(`the stream-updated event has no "status"`))
		}
		json.Unmarshal(payload["reason"], &st.Reason) // optional
		r.mu.Lock()
		r.status = st
		r.mu.Unlock()
		r.logger.Warn("ssf: the transmitter changed the stream's status", "transmitter", r.cfg.Transmitter, "status", truncate(st.Status), "reason", truncate(st.Reason))
		return result{outcome: outcomeApplied, reason: "stream_updated"}
	}

	raw, ok := top["sub_id"]
	if !ok {
		raw, ok = payload["subject"] // events defined before SSF 1.0 name it in the event
	}
	if !ok {
		return refused(codeInvalidRequest, "subject", errors.New(`the SET names no subject ("sub_id")`))
	}
	s, why, err := r.resolve(ctx, raw, eff == effectToken)
	if err != nil {
		return refused(codeInvalidRequest, "subject", err)
	}
	if why != "" {
		return result{outcome: outcomeIgnored, reason: why}
	}
	at := eventTime(payload, top, iat)
	until := r.now().Add(r.lifetime)
	rev := r.cfg.Revocations
	switch {
	case eff == effectToken && s.jti != "":
		err = rev.RevokeToken(ctx, s.jti, until)
		return r.applied("token", err)
	case eff == effectSession && s.session != "":
		err = rev.RevokeSession(ctx, s.session, until)
		return r.applied("session", err)
	case eff != effectToken && s.user != "":
		err = rev.RevokeSubject(ctx, s.user, at)
		return r.applied("subject", err)
	}
	return result{outcome: outcomeIgnored, reason: "unknown_subject"}
}

func (r *Receiver) applied(reason string, err error) result {
	if err != nil {
		return unavailable("store", err)
	}
	return result{outcome: outcomeApplied, reason: reason}
}

// eventTime is when the event happened: its event_timestamp (CAEP 1.0
// §2), else the SET's "toe" (RFC 8417 §2.2), else its "iat"; never later
// than "iat", since a SET cannot report an event before it happens. A
// timestamp too large for seconds is read as milliseconds.
func eventTime(payload, top map[string]json.RawMessage, iat time.Time) time.Time {
	for _, raw := range []json.RawMessage{payload["event_timestamp"], top["toe"]} {
		if raw == nil {
			continue
		}
		var secs json.Number
		if json.Unmarshal(raw, &secs) != nil {
			continue
		}
		f, err := secs.Float64()
		if f > 1e11 {
			f /= 1000 // milliseconds, as some transmitters write it
		}
		if err != nil || f < 0 || f > 9e9 {
			continue
		}
		at := time.Unix(0, int64(f*1e9))
		if at.After(iat) {
			return iat
		}
		return at
	}
	return iat
}
