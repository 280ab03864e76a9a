// Package txntoken implements OAuth Transaction Tokens
// (draft-ietf-oauth-transaction-tokens-10): short-lived signed JWTs that
// carry the caller's identity and the transaction's context from the edge
// of a trust domain to every service behind it, in place of identity
// headers anyone inside the network could forge.
//
// A service verifies them with an ordinary accesstoken Validator made from
// [Config], and reads them from the Txn-Token header with each adapter's
// WithTokenHeader option. A gateway mints them after validating the
// caller's access token: with a [Signer] (the gateway is its own
// Transaction Token Service, its public keys served as a JWK Set) or an
// [Exchanger] (RFC 8693 token exchange at a separate Transaction Token
// Service). httpauth and extauthz take either through
// WithTransactionToken, and `accesstoken serve` through its --txn-token-*
// flags.
package txntoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/bridge"
)

const (
	// Type is the JOSE "typ" of a Transaction Token (draft §5.1).
	Type = "txntoken+jwt"
	// TokenTypeURN is its RFC 8693 token type (draft §7.1).
	TokenTypeURN = "urn:ietf:params:oauth:token-type:txn_token"
	// Header is the HTTP header that carries it between workloads (draft
	// §8.1); gRPC metadata uses its lower-case form, "txn-token".
	Header = "Txn-Token"
	// MaxLifetime is the longest lifetime ("exp" − "iat") a verifier
	// accepts: Transaction Tokens live "on the order of minutes or less"
	// (draft §3).
	MaxLifetime = time.Hour
	// DefaultLifetime is how long a minted token lives unless configured.
	DefaultLifetime = 5 * time.Minute
)

// Config returns the accesstoken.Config of a service that accepts
// Transaction Tokens of one trust domain: "typ" txntoken+jwt only (§5.1),
// "aud" naming trustDomain (§5.2: a token is never accepted outside its
// trust domain), "exp" not passed (§8.2), and every claim §5.2 makes
// REQUIRED present: "iat", "exp", "txn", "sub", "scope" and "req_wl" (non-
// empty strings), with a lifetime of at most [MaxLifetime]. issuer is the
// "iss" every token must carry; "" accepts tokens with any "iss" or none,
// since the draft makes it optional: the trust domain and the keys bind
// them.
//
// Set the keys before NewValidator: JWKSURL (the gateway's
// /.well-known/jwks.json, or the Transaction Token Service's set) or Keys.
// The adapters' WithTokenHeader(txntoken.Header) takes the token from its
// header. Validators made from other Configs keep refusing Transaction
// Tokens: their default types exclude txntoken+jwt.
func Config(issuer, trustDomain string) accesstoken.Config {
	p := &accesstoken.Profile{}
	bridge.ClaimsRule(p, check) // once per token: the verified-token cache keeps the verdict
	cfg := accesstoken.Config{
		Issuer:     issuer,
		Audience:   []string{trustDomain},
		TokenTypes: []string{Type},
		Profile:    p,
	}
	if issuer == "" {
		cfg.Issuer = trustDomain // a name for logs and metrics; "iss" is not compared
		bridge.IssuerUnchecked(p)
	}
	return cfg
}

// check applies the draft's claim rules (§5.2) to a token that passed the
// signature, type, audience and time checks.
func check(c *accesstoken.Claims) error {
	switch {
	case c.IssuedAt.IsZero():
		return errors.New(`a Transaction Token without "iat" (draft §5.2: REQUIRED)`)
	case c.ExpiresAt.Sub(c.IssuedAt) > MaxLifetime:
		return fmt.Errorf("a Transaction Token living %v, more than %v", c.ExpiresAt.Sub(c.IssuedAt), MaxLifetime)
	case c.Subject == "":
		return errors.New(`a Transaction Token without "sub" (draft §5.2: REQUIRED)`)
	}
	var members map[string]json.RawMessage
	if err := c.Decode(&members); err != nil {
		return err
	}
	for _, name := range [...]string{"txn", "scope", "req_wl"} {
		var s string
		if raw, ok := members[name]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			return fmt.Errorf("a Transaction Token whose %q is not a non-empty string (draft §5.2: REQUIRED)", name)
		}
	}
	return nil
}

// Claims are a Transaction Token's own claims (draft §5.2), read from the
// accesstoken.Claims a validator returned with [Decode] (or Claims.Decode
// into a struct of your own). "sub", "aud", "iat", "exp" and "iss" are in
// accesstoken.Claims.
type Claims struct {
	// Txn is the transaction's identifier, the same in every service the
	// transaction reaches: log it to follow a request through the call
	// chain.
	Txn string `json:"txn"`

	// Scope is the transaction's purpose, space-separated, as the
	// Transaction Token Service set it (which may be narrower than the
	// caller's access token). accesstoken.Claims.Scopes holds it split.
	Scope string `json:"scope"`

	// RequestingWorkload ("req_wl") names the workload that asked for the
	// token: the gateway.
	RequestingWorkload string `json:"req_wl"`

	// RequestContext ("rctx") describes the request that started the
	// transaction, as the gateway saw it.
	RequestContext RequestContext `json:"rctx"`

	// TransactionContext ("tctx") holds values that stay the same through
	// the call chain. What a Signer writes is described there; a
	// Transaction Token Service writes what it decides.
	TransactionContext map[string]any `json:"tctx"`
}

// RequestContext is the "rctx" claim as a [Signer] writes it (draft §5.2.2;
// a Transaction Token Service may write other members, which Decode drops:
// decode into your own type to keep them). Nothing in it is secret: no
// token, no header value beyond these.
type RequestContext struct {
	// IP is the caller's address ("req_ip", as in the draft's example): the
	// peer, or the first address of a trusted proxy's forwarding header.
	IP string `json:"req_ip,omitempty"`
	// Authn is how the user logged in ("authn", RFC 8176 values): the
	// first "amr" value of the access token, when it had one.
	Authn string `json:"authn,omitempty"`
	// Transport is "https" or "http", as the caller reached the edge.
	Transport string `json:"transport,omitempty"`
	// Method and Path are the caller's request line ("req_method",
	// "req_path"; the path without its query).
	Method string `json:"req_method,omitempty"`
	Path   string `json:"req_path,omitempty"`
	// TokenBinding is how the caller's access token was bound: "bearer",
	// "dpop" (RFC 9449) or "mtls" (RFC 8705).
	TokenBinding string `json:"token_binding,omitempty"`
}

// Decode reads the Transaction Token claims of c, which a validator made
// from [Config] returned.
func Decode(c *accesstoken.Claims) (*Claims, error) {
	var out Claims
	if err := c.Decode(&out); err != nil {
		return nil, fmt.Errorf("txntoken: %w", err)
	}
	return &out, nil
}

// A Minter makes the Transaction Token of one request: a [Signer] or an
// [Exchanger]. It must be safe for concurrent use.
type Minter interface {
	Mint(ctx context.Context, r Request) (string, error)
}

// Request is what a gateway knows of the request it mints for, after it
// validated the caller's access token.
type Request struct {
	// AccessToken is the caller's access token, sent to a Transaction
	// Token Service as the subject token (an Exchanger); a Signer ignores
	// it and never copies it into the token (draft §10.4).
	AccessToken string
	// Claims are the access token's verified claims. Required.
	Claims *accesstoken.Claims
	// Scope is the transaction's purpose. "" means the scopes the access
	// token carried.
	Scope string
	// Context describes the request ("rctx").
	Context RequestContext
	// Details are request parameters for "tctx" (an Exchanger sends them
	// as request_details, draft §7.1). Nil means none.
	Details map[string]any
}
