// Package bridge lets the other packages of the core module reach what
// package accesstoken keeps unexported, without widening its public API.
// Package accesstoken fills these variables when it is initialised, which
// is before any package importing it runs.
package bridge

var (
	// ExpiryOptional makes the *accesstoken.Validator v accept JWTs that
	// carry no "exp": Security Event Tokens have none (package ssf).
	ExpiryOptional func(v any)

	// Reason is the accesstoken.Validation.Reason of an error a validator
	// returned: a word from a fixed list.
	Reason func(err error) string

	// IssuerUnchecked marks the *accesstoken.Profile p (in an unexported
	// field, which copies of it keep): validators made from a Config
	// carrying it do not compare "iss" with Config.Issuer (Transaction
	// Tokens, whose "iss" is optional: package txntoken).
	IssuerUnchecked func(p any)

	// ClaimsRule gives the *accesstoken.Profile p a rule on the claims, a
	// func(*accesstoken.Claims) error, applied once per token when it is
	// verified (unlike Profile.Check, which runs on every validation): the
	// claim rules of a token format (package txntoken).
	ClaimsRule func(p any, rule any)

	// Store is the accesstoken.Store the *accesstoken.Revocations r keeps
	// its records in.
	Store func(r any) any
)
