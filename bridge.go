package accesstoken

import "github.com/tokenguard/accesstoken/internal/bridge"

// The other packages of this module (ssf, txntoken) use these through
// package bridge.
func init() {
	bridge.ExpiryOptional = func(v any) { v.(*Validator).expiryOptional = true }
	bridge.Reason = func(err error) string { return AsError(err).reason() }
	bridge.Store = func(r any) any { return r.(*Revocations).store }
	bridge.IssuerUnchecked = func(p any) { p.(*Profile).issuerUnchecked = true }
	bridge.ClaimsRule = func(p, rule any) { p.(*Profile).claimsRule = rule.(func(*Claims) error) }
}
