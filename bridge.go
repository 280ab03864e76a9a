package accesstoken

import (
	"sync"

	"github.com/tokenguard/accesstoken/internal/bridge"
)

// The other packages of this module (ssf) use these through package bridge.
func init() {
	bridge.ExpiryOptional = func(v any) { v.(*Validator).expiryOptional = true }
	bridge.Reason = func(err error) string { return AsError(err).reason() }
	bridge.Store = func(r any) any { return r.(*Revocations).store }
	bridge.IssuerUnchecked = func(p any) { issuerUnchecked.Store(p.(*Profile), true) }
	bridge.ClaimsRule = func(p, rule any) { claimsRules.Store(p.(*Profile), rule.(func(*Claims) error)) }
}

// claimsRules holds the rules of bridge.ClaimsRule by Profile.
var claimsRules sync.Map

// issuerUnchecked holds the Profiles whose validators skip the "iss" check.
var issuerUnchecked sync.Map
