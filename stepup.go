package accesstoken

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is RFC 9470 (OAuth 2.0 Step Up Authentication Challenge): a
// resource that needs a stronger or fresher login than the token shows
// says so, and the client sends the user back to the authorization server.

// AuthenticationRequirement is what a resource requires of the user's
// authentication, checked by [RequireAuthentication].
type AuthenticationRequirement struct {
	// ACRValues are the acceptable authentication context classes: the
	// token's "acr" must equal one of them. Nil means any.
	ACRValues []string

	// MaxAge is how long ago the user may have logged in: the token's
	// "auth_time" must be no older (a token without it fails). Zero means no
	// limit.
	MaxAge time.Duration

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// RequireAuthentication returns nil when c meets req, and otherwise an
// [*Error] matching [ErrInsufficientUserAuthentication] (401) whose
// ACRValues and MaxAge carry only the requirements that failed, for the
// challenge (RFC 9470 §3). Nil claims give [ErrNoToken].
func RequireAuthentication(c *Claims, req AuthenticationRequirement) error {
	if c == nil {
		return newError(ErrNoToken, "", nil)
	}
	var why []string
	e := newError(ErrInsufficientUserAuthentication, descInsufficientAuthn, nil)
	if req.ACRValues != nil && !slices.Contains(req.ACRValues, c.ACR) {
		e.ACRValues = strings.Join(req.ACRValues, " ")
		why = append(why, fmt.Sprintf("acr %q is not one of %q", truncate(c.ACR), req.ACRValues))
	}
	if req.MaxAge > 0 {
		now := time.Now
		if req.Now != nil {
			now = req.Now
		}
		switch {
		case c.AuthTime.IsZero():
			e.MaxAge = req.MaxAge
			why = append(why, "no auth_time")
		case now().Sub(c.AuthTime) > req.MaxAge:
			e.MaxAge = req.MaxAge
			why = append(why, fmt.Sprintf("authenticated %s ago, more than %s", now().Sub(c.AuthTime).Round(time.Second), req.MaxAge))
		}
	}
	if why == nil {
		return nil
	}
	if e.MaxAge > 0 && e.MaxAge < time.Second {
		e.MaxAge = time.Second // the challenge speaks in whole seconds; never "0"
	}
	e.Err = errors.New(strings.Join(why, "; "))
	return e
}
