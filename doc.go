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
//   - "alg" on [Config.Algorithms], never "none" or HMAC (RFC 8725 §3.1);
//     "crit", "b64", "zip", "enc" and "cty" rejected; keys carried in the
//     token ("jwk", "jku", "x5u", "x5c") never used;
//   - "typ" in [Config.TokenTypes] (RFC 8725 §3.11, RFC 9068 §2.1);
//   - the signature, by the JWKS key the "kid" names, whose kty, crv, alg,
//     use and key_ops must fit the token's alg;
//   - "iss" equal to [Config.Issuer], "aud" naming one of [Config.Audience],
//     "exp" present and not passed, "nbf" and "iat" not in the future, each
//     with [Config.Leeway] (RFC 7519 §4.1, RFC 9068 §4);
//   - no "cnf": sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705) are
//     not bearer tokens.
//
// # Keys
//
// The JWKS URL is discovered from the issuer (RFC 8414, then OpenID Connect
// Discovery) unless [Config.JWKSURL] is set. Keys are fetched in the
// background and refreshed every [Config.RefreshInterval] (Cache-Control
// max-age honoured within bounds). A token naming an unknown key triggers one
// shared refresh, at most once per [Config.MinRefreshInterval]; callers never
// queue behind a rate limiter. If the issuer is down, the last good keys stay
// in use for [Config.MaxKeyAge]. NewValidator does not wait for the issuer
// unless [Config.StrictStart] is set; until keys arrive, Validate answers
// [ErrUnavailable].
//
// Weak or unfit keys in the JWKS are never used: RSA under 2048 bits, keys
// with private members, "use" other than "sig", "key_ops" without "verify",
// symmetric keys.
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
// can mint JWTs with any claims, algorithm, key ID or type, and opaque tokens
// that its introspection endpoint answers for (and Revoke).
package accesstoken
