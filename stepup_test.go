package accesstoken

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

func TestRequireAuthentication(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	recent := &Claims{ACR: "urn:example:mfa", AuthTime: now.Add(-2 * time.Minute)}
	old := &Claims{ACR: "urn:example:pwd", AuthTime: now.Add(-2 * time.Hour)}
	noTime := &Claims{ACR: "urn:example:mfa"}
	mfa := []string{"urn:example:mfa", "urn:example:hwk"}
	tests := []struct {
		name      string
		c         *Claims
		req       AuthenticationRequirement
		ok        bool
		acrValues string
		maxAge    time.Duration
	}{
		{"nothing required", old, AuthenticationRequirement{}, true, "", 0},
		{"acr one of", recent, AuthenticationRequirement{ACRValues: mfa}, true, "", 0},
		{"acr not one of", old, AuthenticationRequirement{ACRValues: mfa}, false, "urn:example:mfa urn:example:hwk", 0},
		{"acr absent", &Claims{}, AuthenticationRequirement{ACRValues: mfa}, false, "urn:example:mfa urn:example:hwk", 0},
		{"recent enough", recent, AuthenticationRequirement{MaxAge: 5 * time.Minute, Now: clock}, true, "", 0},
		{"too old", old, AuthenticationRequirement{MaxAge: 5 * time.Minute, Now: clock}, false, "", 5 * time.Minute},
		{"no auth_time", noTime, AuthenticationRequirement{MaxAge: 5 * time.Minute, Now: clock}, false, "", 5 * time.Minute},
		{"both fail: both named", old, AuthenticationRequirement{ACRValues: mfa, MaxAge: 10 * time.Minute, Now: clock}, false, "urn:example:mfa urn:example:hwk", 10 * time.Minute},
		{"only age fails: only max_age", noTime, AuthenticationRequirement{ACRValues: mfa, MaxAge: time.Minute, Now: clock}, false, "", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RequireAuthentication(tt.c, tt.req)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkResult(t, nil, err, result{ErrInsufficientUserAuthentication, descInsufficientAuthn})
			if errors.Is(err, ErrInvalidToken) {
				t.Error("matches ErrInvalidToken")
			}
			e := AsError(err)
			if diff := cmp.Diff([]any{tt.acrValues, tt.maxAge, 401}, []any{e.ACRValues, e.MaxAge, e.StatusCode()}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	checkResult(t, nil, RequireAuthentication(nil, AuthenticationRequirement{}), result{ErrNoToken, ""})
}

func TestAuthenticationClaims(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Validate(context.Background(), as.Token(map[string]any{"acr": "urn:example:mfa", "amr": []string{"pwd", "otp"}, "auth_time": 1_800_000_000}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"urn:example:mfa", []string{"pwd", "otp"}, time.Unix(1_800_000_000, 0)}, []any{c.ACR, c.AMR, c.AuthTime}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, err = v.Validate(context.Background(), as.Token(map[string]any{"auth_time": "yesterday"}))
	checkResult(t, nil, err, result{ErrInvalidToken, descMalformed})
}
