package accesstoken

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestChallengeGolden pins the status and WWW-Authenticate value of every
// row of the error table to testdata/challenges.golden.
func TestChallengeGolden(t *testing.T) {
	dpopAllowed, err := newDPoPChecker(DPoPConfig{Algorithms: []string{"ES256", "EdDSA"}}, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	dpopRequired, _ := newDPoPChecker(DPoPConfig{Required: true, Algorithms: []string{"ES256"}}, 0, time.Now)
	expired := newError(ErrInvalidToken, descExpired, nil)
	expired.expired = true
	scope := RequireScopes(&Claims{Scopes: []string{"read"}}, "read", "write")
	cases := []struct {
		name  string
		err   error
		realm string
	}{
		{"no token", newError(ErrNoToken, "", nil), "api"},
		{"no token, no realm", newError(ErrNoToken, "", nil), ""},
		{"invalid request", newError(ErrInvalidRequest, descMalformedRequest, nil), "api"},
		{"invalid token", newError(ErrInvalidToken, descSignature, errors.New("crypto/rsa: verification error")), "api"},
		{"expired", expired, "api"},
		{"insufficient scope", scope, "api"},
		{"unavailable", newError(ErrUnavailable, "", errors.New("dial tcp: refused")), "api"},
		{"foreign error", errors.New("something else"), "api"},
		{"wrapped sentinel", fmt.Errorf("fake: %w", ErrInsufficientScope), "api"},
		{"hostile realm", newError(ErrNoToken, "", nil), "a\"b\\c\r\nSet-Cookie: x=1\x00é"},
		{"hostile scope", &Error{Code: codeInsufficientScope, Scope: "a\" b\r\n", kind: ErrInsufficientScope}, "api"},
		{"dpop: no token", dpopAllowed.decorate(newError(ErrNoToken, "", nil), false), "api"},
		{"dpop: no token, no realm", dpopAllowed.decorate(newError(ErrNoToken, "", nil), false), ""},
		{"dpop: bad bearer token", dpopAllowed.decorate(newError(ErrInvalidToken, descSignature, nil), false), "api"},
		{"dpop: bad token on a DPoP request", dpopAllowed.decorate(newError(ErrInvalidToken, descExpired, nil), true), "api"},
		{"dpop: invalid proof", dpopAllowed.decorate(newError(ErrInvalidDPoPProof, descDPoPProof, nil), true), "api"},
		{"dpop: use nonce", dpopAllowed.decorate(newError(ErrUseDPoPNonce, descDPoPNonce, nil), true), "api"},
		{"dpop: replay cache down", dpopAllowed.decorate(newError(ErrUnavailable, "", nil), true), "api"},
		{"dpop: bad scheme", dpopAllowed.decorate(newError(ErrInvalidRequest, descScheme, nil), false), "api"},
		{"dpop required: no token", dpopRequired.decorate(newError(ErrNoToken, "", nil), false), "api"},
		{"dpop required: bearer token", dpopRequired.decorate(newError(ErrInvalidToken, descBearerRefused, nil), false), "api"},
		{"dpop off: DPoP scheme", (*dpopChecker)(nil).decorate(newError(ErrInvalidToken, descDPoPOff, nil), true), "api"},
		{"dpop: foreign wrapped proof error", fmt.Errorf("fake: %w", ErrInvalidDPoPProof), "api"},
		{"step-up: acr", RequireAuthentication(&Claims{ACR: "pwd"}, AuthenticationRequirement{ACRValues: []string{"mfa", "hwk"}}), "api"},
		{"step-up: max_age", RequireAuthentication(&Claims{}, AuthenticationRequirement{MaxAge: 5 * time.Minute}), "api"},
		{"step-up: both", RequireAuthentication(&Claims{}, AuthenticationRequirement{ACRValues: []string{"mfa"}, MaxAge: 90 * time.Second}), "api"},
		{"step-up: sub-second max_age", RequireAuthentication(&Claims{}, AuthenticationRequirement{MaxAge: time.Millisecond}), "api"},
		{"step-up: foreign wrapped", fmt.Errorf("fake: %w", ErrInsufficientUserAuthentication), "api"},
		{"resource metadata: no token", withMetadata(newError(ErrNoToken, "", nil)), "api"},
		{"resource metadata: insufficient scope", withMetadata(AsError(scope)), "api"},
		{"resource metadata: DPoP allowed", withMetadata(dpopAllowed.decorate(newError(ErrNoToken, "", nil), false)), "api"},
		{"resource metadata: hostile URL", &Error{kind: ErrNoToken, ResourceMetadata: "https://x\"\r\nSet-Cookie: a=b"}, "api"},
	}
	var b strings.Builder
	for _, c := range cases {
		e := AsError(c.err)
		fmt.Fprintf(&b, "%s\t%d\t%s\n", c.name, e.StatusCode(), e.Challenge(c.realm))
	}
	checkGolden(t, "challenges.golden", b.String())
}

func TestErrorsIs(t *testing.T) {
	expired := newError(ErrInvalidToken, descExpired, context.DeadlineExceeded)
	expired.expired = true
	tests := []struct {
		err  error
		is   []error
		isnt []error
	}{
		{expired, []error{ErrInvalidToken, ErrTokenExpired, context.DeadlineExceeded}, []error{ErrUnavailable, ErrNoToken}},
		{newError(ErrInvalidToken, descSignature, nil), []error{ErrInvalidToken}, []error{ErrTokenExpired}},
		{newError(ErrUnavailable, "", nil), []error{ErrUnavailable}, []error{ErrInvalidToken}},
		{AsError(context.Canceled), []error{ErrUnavailable, context.Canceled}, []error{ErrInvalidToken}},
		{AsError(fmt.Errorf("x: %w", ErrTokenExpired)), []error{ErrInvalidToken, ErrTokenExpired}, nil},
		{AsError(errors.New("odd")), []error{ErrInvalidToken}, []error{ErrUnavailable}},
	}
	for _, tt := range tests {
		for _, target := range tt.is {
			if !errors.Is(tt.err, target) {
				t.Errorf("%v is not %v", tt.err, target)
			}
		}
		for _, target := range tt.isnt {
			if errors.Is(tt.err, target) {
				t.Errorf("%v is %v", tt.err, target)
			}
		}
	}
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	if !strings.HasPrefix(expired.Error(), "accesstoken: ") {
		t.Errorf("error text %q", expired.Error())
	}
}

// TestNoTokenInErrors: whatever is wrong with a token, neither the error
// text nor the challenge contains it.
func TestNoTokenInErrors(t *testing.T) {
	ri := newRawIssuer(t)
	v := ri.validator(t, nil)
	good := mint("RS256", ri.claims())
	claims := ri.claims()
	claims["aud"] = "other"
	tokens := []string{
		good[:len(good)-8] + "AAAAAAAA",
		mint("RS256", claims),
		signRaw("RS256", []byte(`{"alg":"RS256","kid":"rsa","typ":"secret-typ-value-that-is-long-enough-to-truncate"}`), mustJSON(ri.claims())),
		"opaque-secret-value",
		good + strings.Repeat("A", maxTokenBytes),
	}
	for _, tok := range tokens {
		_, err := v.Validate(context.Background(), tok)
		e := AsError(err)
		for _, text := range []string{err.Error(), e.Challenge("api"), e.Description} {
			for _, part := range strings.Split(tok, ".") {
				if len(part) > 16 && strings.Contains(text, part) {
					t.Errorf("error text carries part of the token: %q", text)
				}
			}
		}
	}
}

// FuzzChallenge: no realm, description or scope can make the header value
// carry a control character, a bare quote or a backslash.
func FuzzChallenge(f *testing.F) {
	f.Add("api", "The access token expired", "read write")
	f.Add("a\"b", "x\r\ny", "\\")
	f.Fuzz(func(t *testing.T, realm, desc, scope string) {
		e := &Error{Code: codeInsufficientScope, Description: desc, Scope: scope, kind: ErrInsufficientScope}
		checkChallenge(t, e.Challenge(realm))
		checkChallenge(t, newError(ErrNoToken, "", nil).Challenge(realm))
	})
}

func checkChallenge(t *testing.T, h string) {
	if !strings.HasPrefix(h, "Bearer") {
		t.Fatalf("challenge %q", h)
	}
	inQuote := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c < 0x20 || c > 0x7e || c == '\\' {
			t.Fatalf("challenge %q has byte %#x", h, c)
		}
		if c == '"' {
			inQuote = !inQuote
			// A closing quote ends the value: next is a separator or the end.
			if !inQuote && i+1 < len(h) && !strings.HasPrefix(h[i+1:], ", ") {
				t.Fatalf("challenge %q: quote inside a value", h)
			}
		}
	}
	if inQuote {
		t.Fatalf("challenge %q: unbalanced quotes", h)
	}
}

func withMetadata(e *Error) *Error {
	cp := *e
	cp.ResourceMetadata = "https://api.example.com/.well-known/oauth-protected-resource"
	return &cp
}
