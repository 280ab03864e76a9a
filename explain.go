package accesstoken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file explains a verdict: Explain runs the same validation as
// Validate, then lays out every check in the pipeline's order with what the
// configuration wanted and what the token carried, and names the likely
// cause where a common one is recognisable. The verdict is always
// Validate's own; the explanation only reads the token (unverified, once it
// failed) to say why.

// Explanation is what [Validator.Explain] found about one token: the verdict
// of Validate and each check in order, with what it wanted and what the
// token carried. It is for operators, tools and logs only: it holds the
// token's claims, unverified when the token was refused, and hints about the
// configuration. Never send it, or any part of it, to a client; a client
// gets the [Error] and its fixed description.
type Explanation struct {
	// Accepted is the verdict: what Validate would have answered.
	Accepted bool

	// Err is Validate's error; nil when Accepted.
	Err error

	// Checks are the checks the token reached, in the pipeline's order:
	// "format", "typ", "alg", "kid", "signature", "iss", "aud", "exp",
	// "nbf", "iat", "binding", "active", "revoked", "platform". Checks that
	// do not apply are left out (no "active" for a JWT verified locally);
	// after the first that failed, none is listed.
	Checks []Check

	// Header is the JOSE header as decoded; nil for a token that is not a
	// JWT.
	Header map[string]any

	// Claims are the token's claims as decoded (verified only when
	// Accepted), or the introspection answer's for an accepted opaque
	// token. Nil when they could not be read.
	Claims map[string]any
}

// Check is one step of an [Explanation].
type Check struct {
	Name string // see Explanation.Checks
	OK   bool
	Got  string // what the token carried, for people; never a signature
	Want string // what the configuration asked for
	Hint string // what to change, when a common cause is recognisable; may be empty
}

// The names of the checks, in the pipeline's order.
var checkOrder = []string{"format", "typ", "alg", "kid", "signature", "iss", "aud", "exp", "nbf", "iat", "binding", "active", "revoked", "platform"}

// Explain validates token as Validate does and says why it was accepted or
// refused, check by check, with a hint where the cause is a common one (an
// issuer differing by a slash, an audience Keycloak or Entra ID writes
// differently, clock skew, a token for another API or tenant, ...). It is
// for operators and tools (the accesstoken command prints it), never for
// clients. It is not observed by Config.Observer.
func (v *Validator) Explain(ctx context.Context, token string) *Explanation {
	c, e := v.validate(ctx, token)
	if e == nil {
		e = refuseBound(c)
	}
	return explain(v, []string{v.issuer}, token, c, e)
}

// Explain is [Validator.Explain] for the issuer the token names; a token
// that reaches no issuer is explained against the listed ones.
func (m *MultiIssuer) Explain(ctx context.Context, token string) *Explanation {
	c, v, e := m.validate(ctx, token)
	if e == nil {
		e = refuseBound(c)
	}
	issuers := make([]string, 0, len(m.listed))
	for iss := range m.listed {
		issuers = append(issuers, iss)
	}
	slices.Sort(issuers)
	if v != nil {
		issuers = []string{v.issuer}
	}
	return explain(v, issuers, token, c, e)
}

// explainer holds what one explanation is built from. v may be nil (a
// MultiIssuer that reached no issuer).
type explainer struct {
	v       *Validator
	issuers []string
	x       *Explanation
	token   string
	kind    string // "JWS", "JWE", "opaque", ""; "JWS" for a JWE the validator decrypted
	jwe     bool   // the token was a JWE, decrypted for the explanation
	failed  string // the check that failed; "" when accepted
	e       *Error
	claims  *Claims // the accepted claims; nil when refused
}

func explain(v *Validator, issuers []string, token string, c *Claims, e *Error) *Explanation {
	ex := &explainer{v: v, issuers: issuers, x: &Explanation{Accepted: e == nil}, token: token}
	if e == nil {
		ex.claims = c
	}
	if e != nil {
		ex.x.Err = e
		ex.e = e
	}
	ex.decode()
	if c != nil && e == nil && c.raw != nil {
		if claims, err := decodeObject(c.raw); err == nil {
			ex.x.Claims = claims
		}
	}
	ex.failed = ex.failedCheck()
	for _, name := range checkOrder {
		ch, applies := ex.check(name)
		if !applies {
			continue
		}
		ch.Name = name
		ch.OK = name != ex.failed
		if !ch.OK && ch.Hint == "" {
			ch.Hint = ex.hint(name)
		}
		ex.x.Checks = append(ex.x.Checks, ch)
		if !ch.OK {
			break
		}
	}
	return ex.x
}

// decode reads the header and claims without verifying anything.
func (ex *explainer) decode() {
	switch strings.Count(ex.token, ".") {
	case 2:
		ex.kind = "JWS"
	case 4:
		ex.kind = "JWE"
		if ex.v != nil && ex.v.decrypter != nil {
			if _, jws, unsigned, err := ex.v.decrypter.decrypt(ex.token); err == nil {
				ex.jwe = true
				if jws == "" { // unsigned claims under symmetric key management
					ex.x.Claims, _ = decodeObject(unsigned)
					return
				}
				ex.kind = "JWS"
				parts := strings.SplitN(jws, ".", 3)
				ex.x.Header, _ = decodeLenient(parts[0])
				ex.x.Claims, _ = decodeLenient(parts[1])
				return
			}
		}
	default:
		if ex.token != "" {
			ex.kind = "opaque"
		}
		return
	}
	parts := strings.SplitN(ex.token, ".", 3)
	if h, err := decodeLenient(parts[0]); err == nil {
		ex.x.Header = h
	}
	if ex.kind == "JWS" {
		if c, err := decodeLenient(parts[1]); err == nil {
			ex.x.Claims = c
		}
	}
}

// decodeLenient decodes a base64url JSON object for display, padded or not.
func decodeLenient(seg string) (map[string]any, error) {
	raw, err := strictB64.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, err
	}
	return decodeObject(raw)
}

// decodeObject decodes a JSON object for display, numbers kept exact.
func decodeObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// failedCheck maps Validate's error to the check that refused the token.
func (ex *explainer) failedCheck() string {
	e := ex.e
	if e == nil {
		return ""
	}
	cause := fmt.Sprint(e.Err)
	switch e.kind {
	case ErrNoToken, ErrInvalidRequest:
		return "format"
	case ErrUnavailable:
		switch {
		case strings.Contains(cause, "metadata names issuer"):
			return "iss"
		case strings.HasPrefix(cause, "introspection"):
			return "active"
		case strings.HasPrefix(cause, "revocation"):
			return "revoked"
		case strings.HasPrefix(cause, "resolv"), strings.Contains(cause, "was evicted"), strings.HasPrefix(cause, "Resolve("):
			return "iss"
		case ex.kind == "JWS" && ex.keysOK():
			return "platform" // Profile.Check could not be made
		}
		return "kid"
	}
	switch e.Description {
	case descMalformed:
		if strings.Contains(cause, `no "exp"`) {
			return "exp"
		}
		return "format"
	case descTooLarge, descEncrypted, descJWE, descOpaque:
		return "format"
	case descType:
		return "typ"
	case descAlgorithm:
		return "alg"
	case descHeader:
		if ex.refusedHeader() != "" {
			return "platform"
		}
		return "format"
	case descUnknownKey:
		return "kid"
	case descSignature:
		return "signature"
	case descIssuer:
		return "iss"
	case descAudience:
		return "aud"
	case descExpired:
		return "exp"
	case descNotYetValid:
		return "nbf"
	case descIssuedInFuture:
		return "iat"
	case descInactive, descInvalid:
		if ex.kind == "opaque" || strings.HasPrefix(cause, "introspection") {
			return "active"
		}
		return "platform"
	case descRevoked:
		return "revoked"
	case descClaim:
		return "platform"
	}
	return "binding"
}

// keysOK reports whether the keys for the token's kid are in hand.
func (ex *explainer) keysOK() bool {
	if ex.v == nil {
		return false
	}
	set, err := ex.v.keys.current()
	if err != nil {
		return false
	}
	kid, has := ex.x.Header["kid"].(string)
	return len(set.pool([]byte(kid), has)) > 0
}

// refusedHeader is the Profile.RefusedHeaders member the header has, if any.
func (ex *explainer) refusedHeader() string {
	if ex.v == nil || ex.v.profile == nil {
		return ""
	}
	for name := range ex.x.Header {
		if _, ok := ex.v.profile.refused[name]; ok {
			return name
		}
	}
	return ""
}

// check describes one check, and whether it applies to this token.
func (ex *explainer) check(name string) (Check, bool) {
	v, h, c := ex.v, ex.x.Header, ex.x.Claims
	jws := ex.kind == "JWS"
	switch name {
	case "format":
		got := map[string]string{"JWS": "a JWT (JWS compact serialization)", "JWE": "an encrypted JWT (JWE, five segments)",
			"opaque": "an opaque token", "": "no token"}[ex.kind]
		if ex.jwe {
			got = "an encrypted JWT (JWE), decrypted with this API's key"
			if ex.kind == "JWS" {
				got += ": a JWS inside"
			}
		}
		want := "a JWT"
		if v != nil && v.intro != nil {
			want = "a JWT, or an opaque token to introspect"
		}
		return Check{Got: got, Want: want}, true
	case "typ":
		if !jws {
			return Check{}, false
		}
		return Check{Got: show(h, "typ"), Want: ex.wantTypes()}, true
	case "alg":
		if !jws {
			return Check{}, false
		}
		return Check{Got: show(h, "alg"), Want: ex.wantAlgs()}, true
	case "kid":
		if !jws {
			return Check{}, false
		}
		return Check{Got: show(h, "kid"), Want: ex.wantKids()}, true
	case "signature":
		if !jws {
			return Check{}, false
		}
		ch := Check{Got: "verified", Want: "valid, by a key of the issuer"}
		if ex.failed == "signature" {
			ch.Got = "does not verify"
		}
		return ch, true
	case "iss":
		if !jws && ex.failed != "iss" && !ex.x.Accepted {
			return Check{}, false
		}
		got := show(c, "iss")
		if ex.claims != nil && got == "absent" { // an introspection answer speaks for the issuer
			got = showValue(ex.claims.Issuer) + " (the introspection endpoint's issuer)"
		}
		return Check{Got: got, Want: quoteList(ex.issuers)}, true
	case "aud":
		if !jws && !ex.x.Accepted && ex.failed != "aud" {
			return Check{}, false
		}
		ch := Check{Got: show(c, "aud"), Want: "one of " + quoteList(ex.audience())}
		if v != nil && v.profile != nil && v.profile.audience != nil {
			ch.Got = v.profile.audName + " " + showPointer(c, v.profile.audience)
		}
		return ch, true
	case "exp", "nbf", "iat":
		if !jws && !ex.x.Accepted && ex.failed != name {
			return Check{}, false
		}
		return ex.timeCheck(name), true
	case "binding":
		_, bound := c["cnf"]
		if !bound && ex.failed != "binding" {
			return Check{}, false
		}
		return Check{Got: show(c, "cnf"), Want: "proof of possession through ValidateRequest (DPoP or the client certificate)"}, true
	case "active":
		if ex.kind != "opaque" && ex.failed != "active" && (v == nil || v.intro == nil || !v.intro.cfg.IntrospectJWTs) {
			return Check{}, false
		}
		ch := Check{Got: "active", Want: "active"}
		if ex.failed == "active" {
			ch.Got = causeText(ex.e)
		}
		return ch, true
	case "revoked":
		if (v == nil || v.revocations == nil) && ex.failed != "revoked" {
			return Check{}, false
		}
		ch := Check{Got: "not revoked", Want: "not revoked"}
		if ex.failed == "revoked" {
			ch.Got = causeText(ex.e)
		}
		return ch, true
	case "platform":
		if (v == nil || v.profile == nil) && ex.failed != "platform" {
			return Check{}, false
		}
		ch := Check{Got: "holds", Want: ex.wantProfile()}
		if ex.failed == "platform" {
			ch.Got = causeText(ex.e)
		}
		return ch, true
	}
	return Check{}, false
}

func (ex *explainer) audience() []string {
	if ex.v == nil {
		return nil
	}
	return ex.v.audience
}

func (ex *explainer) wantTypes() string {
	if ex.v == nil {
		return "absent, JWT or at+jwt"
	}
	var out []string
	if ex.v.typeAbsentOK {
		out = append(out, "absent")
	}
	return strings.Join(append(out, ex.v.types...), ", ")
}

func (ex *explainer) wantAlgs() string {
	if ex.v == nil {
		return "the issuer's algorithms"
	}
	names := make([]string, 0, len(ex.v.algs))
	for n := range ex.v.algs {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (ex *explainer) wantKids() string {
	if ex.v == nil {
		return "a key of the issuer"
	}
	set, err := ex.v.keys.current()
	if err != nil {
		return "a key of the issuer (none in hand: " + err.Error() + ")"
	}
	var kids []string
	for _, k := range set.keys {
		if k.kid != "" && !slices.Contains(kids, k.kid) {
			kids = append(kids, k.kid)
		}
	}
	if len(kids) == 0 {
		return "a key of the issuer"
	}
	if len(kids) > 8 {
		kids = append(kids[:8], "…")
	}
	return "one of the issuer's keys: " + quoteList(kids)
}

func (ex *explainer) wantProfile() string {
	if ex.v == nil || ex.v.profile == nil {
		return "the platform's rules"
	}
	p := ex.v.profile
	var parts []string
	for _, r := range p.required {
		parts = append(parts, fmt.Sprintf("%s = %q", r.name, r.value))
	}
	for name := range p.refused {
		parts = append(parts, fmt.Sprintf("no %q header", name))
	}
	if p.check != nil {
		parts = append(parts, "Profile.Check")
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "the platform's rules"
	}
	return strings.Join(parts, "; ")
}

// timeCheck describes exp, nbf or iat against the validator's clock.
func (ex *explainer) timeCheck(name string) Check {
	now := time.Now()
	var leeway time.Duration
	if ex.v != nil {
		now, leeway = ex.v.now(), ex.v.leeway
	}
	t, ok := claimTime(ex.x.Claims, name)
	ch := Check{Got: "absent"}
	if ok {
		ch.Got = t.UTC().Format(time.RFC3339) + " (" + relative(t, now) + ")"
	}
	at := "now (" + now.UTC().Format(time.RFC3339) + ")"
	switch name {
	case "exp":
		ch.Want = "after " + at
	default:
		ch.Want = "not after " + at
	}
	if leeway > 0 {
		ch.Want += ", with " + leeway.String() + " of leeway"
	}
	return ch
}

func claimTime(claims map[string]any, name string) (time.Time, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// relative says how far t is from now, in words.
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return d.String() + " from now"
	}
	return (-d).String() + " ago"
}

// show renders a member of a decoded object for people.
func show(m map[string]any, name string) string {
	v, ok := m[name]
	if !ok {
		return "absent"
	}
	return showValue(v)
}

func showPointer(claims map[string]any, p jsonPointer) string {
	var cur any = claims
	for _, tok := range p {
		obj, ok := cur.(map[string]any)
		if !ok {
			return "absent"
		}
		if cur, ok = obj[tok]; !ok {
			return "absent"
		}
	}
	return showValue(cur)
}

func showValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func quoteList(list []string) string {
	b, _ := json.Marshal(list)
	return string(b)
}

func causeText(e *Error) string {
	if e == nil || e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// unavailable reports whether the token could not be checked.
func (ex *explainer) unavailable() bool { return ex.e != nil && errors.Is(ex.e, ErrUnavailable) }
