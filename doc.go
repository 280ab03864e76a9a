// Package accesstoken validates OAuth 2.0 access tokens on the resource
// server: it takes the bearer token of a request and returns typed [Claims]
// or an [*Error] that says, per RFC 6750, what to answer.
//
// # Quick start
//
//	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
//		Issuer:   "https://issuer.example",         // exact "iss"
//		Audience: []string{"https://api.example"}, // one must be in "aud"
//	})
//	if err != nil {
//		return err
//	}
//	defer v.Close()
//
//	claims, err := v.Validate(ctx, token)
//	switch {
//	case errors.Is(err, accesstoken.ErrUnavailable): // 503: keys cannot be fetched
//	case err != nil: // 401: see accesstoken.AsError(err).Challenge(realm)
//	}
//	if err := accesstoken.RequireScopes(claims, "orders:read"); err != nil {
//		// 403 insufficient_scope
//	}
//
// Most APIs use an adapter instead of calling Validate: the net/http
// middleware in middleware/httpauth (this module), or the gRPC and echo
// adapters, each in a module of its own. Handlers read the claims with
// [FromContext].
//
// # What is checked
//
// A JWT (three dot-separated parts) is verified locally, failing closed at
// the first problem:
//
//   - size (16 KiB) before anything else; canonical unpadded base64url
//     (RFC 7515 §2); header and payload strict JSON objects with no duplicate
//     member names, names matched exactly;
//   - "alg" on [Config.Algorithms], never "none", HMAC only with a secret in
//     [Config.Keys] (RFC 8725 §3.1); "crit", "b64", "zip", "enc" and "cty"
//     rejected; keys carried in the token ("jwk", "jku", "x5u", "x5c") never
//     used;
//   - "typ" in [Config.TokenTypes] (RFC 8725 §3.11, RFC 9068 §2.1);
//   - the signature, by the JWKS key the "kid" names, whose kty, crv, alg,
//     use and key_ops must fit the token's alg;
//   - "iss" equal to [Config.Issuer], "aud" naming one of [Config.Audience],
//     "exp" present and not passed, "nbf" and "iat" not in the future, each
//     with [Config.Leeway] (RFC 7519 §4.1, RFC 9068 §4);
//   - no "cnf": sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705) are
//     not bearer tokens, and only [Validator.ValidateRequest] accepts them.
//
// # Sender-constrained tokens
//
// [Validator.ValidateRequest] takes the whole [Request]: the scheme, the DPoP
// proof, the method and URL, the TLS client certificate. A token whose "cnf"
// names a DPoP key ("jkt") passes only under the DPoP scheme with a proof
// signed by that key that passes every check of RFC 9449 §4.3 and was never
// seen before ([DPoPConfig].Replay); one whose "cnf" names a certificate
// ("x5t#S256") only with that client certificate (RFC 8705 §3). Server
// nonces ([DPoPConfig].Nonces) are stateless and shared by replicas through
// [DPoPConfig].NonceSecret. The adapters build the Request and call
// ValidateRequest whenever their validator has it.
//
// # Keys
//
// The JWKS URL is discovered from the issuer (RFC 8414, then OpenID Connect
// Discovery) unless [Config.JWKSURL] is set. Keys are fetched in the
// background and refreshed every [Config.RefreshInterval] (Cache-Control
// max-age honoured within bounds). If the issuer is down, the last good keys
// stay in use for [Config.MaxKeyAge]. NewValidator does not wait for the
// issuer unless [Config.StrictStart] is set; until keys arrive, Validate
// answers [ErrUnavailable].
//
// Weak or unfit keys in the JWKS are never used: RSA under 2048 bits, keys
// with private members, "use" other than "sig", "key_ops" without "verify",
// symmetric keys. A "kid" that names two different keys able to verify the
// same algorithm does not say which key signed a token (RFC 7517 §4.5): those
// keys are dropped, logged, and their tokens are invalid_token; the rest of
// the document is used. "EdDSA" and RFC 9864's "Ed25519" name the same
// signature with an Ed25519 key.
//
// [Config.Keys] replaces the JWKS with static keys: public keys, or HMAC
// secrets for HS256/384/512 (service-to-service tokens). No request is made
// for keys at all, and the issuer may be any string.
//
// # Key rotation
//
// A token naming a key ID the validator does not know makes it fetch the
// JWKS, and the token is judged only by a fetch that started after it
// arrived: a document read earlier is no proof that the key is unknown (an
// issuer may create its key while that fetch is under way, as Ory Hydra does
// on its first token). Concurrent callers share one fetch, and nobody ever
// waits on a rate limiter.
//
// Tokens may start at most 3 fetches per [Config.MinRefreshInterval], so that
// two rotations in quick succession are both picked up at once while a flood
// of made-up key IDs costs the issuer at most 3 requests per interval. Past
// that limit, an unknown key ID is answered at once:
//
//   - invalid_token (401) when the last fetch succeeded: keys fetched moments
//     ago do not hold this key ID. Not ErrUnavailable, because a 503 that
//     anyone can cause with made-up key IDs would let an attacker make the
//     API look down: load balancers and meshes eject backends that answer
//     5xx (outlier detection), and 5xx rates page operators;
//   - [ErrUnavailable] (503) when the last fetch failed: the key may exist and
//     could not be fetched, so the client should retry rather than discard
//     its token.
//
// The cost of the limit: while made-up key IDs spend the budget, a key that
// an issuer starts signing with before publishing it can be refused for up to
// MinRefreshInterval. Issuers that publish a key before signing with it (as
// most do) are not affected: any fetch in between picks it up.
//
// # Several issuers
//
// [NewMultiIssuer] routes each JWT to the validator of the issuer its "iss"
// names, read from the strictly parsed but unverified payload; that issuer's
// keys, audience, algorithms and introspection alone decide. An issuer that
// is neither listed nor resolved is invalid_token and causes no request of
// any kind. [MultiIssuerConfig.Resolve] trusts tenants on first sight.
//
// # Repeated tokens
//
// A JWT that passed every check is remembered ([Config.VerifiedCacheSize]):
// the same token again skips parsing and the signature check, while "exp",
// "nbf" and "iat" are checked against the clock on every call and the entry
// is dropped as soon as the key that verified it leaves the JWKS. A hit
// needs the whole token to be equal.
//
// # Opaque tokens
//
// With [Config.Introspection] set, any token that is not a JWT is checked at
// the issuer's RFC 7662 introspection endpoint (discovered from its metadata
// unless [IntrospectionConfig.Endpoint] is set), authenticating with
// client_secret_basic, client_secret_post or private_key_jwt. An answer is
// accepted only when "active" is the JSON value true, the "aud" names one of
// ours, "iss" (when present) is ours, "exp"/"nbf"/"iat" pass like a JWT's, and
// no "cnf" binds the token to a key. Anything wrong with the exchange itself
// (network, timeout, status, media type, size, malformed JSON) is
// [ErrUnavailable], never [ErrInvalidToken].
//
// Answers are cached by SHA-256 of the token: an active one at most
// [IntrospectionConfig.CacheTTL] and never past its "exp", an inactive one for
// [IntrospectionConfig.InactiveCacheTTL], a failure not at all; the cache is
// an LRU of [IntrospectionConfig.CacheSize] entries (about 1.1 KB each for a
// typical answer). Concurrent validations of one uncached token share one
// request. [IntrospectionConfig.IntrospectJWTs] sends verified JWTs too, to
// honour revocation.
//
// # Errors
//
// Every rejection matches one sentinel with [errors.Is]:
//
//	ErrNoToken            401  Bearer realm="..."                       (gRPC Unauthenticated)
//	ErrInvalidRequest     400  error="invalid_request"                  (InvalidArgument)
//	ErrInvalidToken       401  error="invalid_token", error_description (Unauthenticated); also "active": false
//	ErrTokenExpired       401  (also matches ErrInvalidToken)           (Unauthenticated)
//	ErrInsufficientScope  403  error="insufficient_scope", scope="..."  (PermissionDenied)
//	ErrUnavailable        503  no challenge                             (Unavailable)
//
// Descriptions sent to clients are fixed sentences; the token and upstream
// text never reach a client or a log.
//
// # Testing
//
// Package accesstokentest runs an authorization server in-process, so tests
// can mint JWTs with any claims, algorithm, key ID or type, tokens signed
// with their own keys or HMAC secrets, and opaque tokens that its
// introspection endpoint answers for (and Revoke).
package accesstoken
