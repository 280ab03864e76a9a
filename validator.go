package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Config configures a [Validator]. A Config must not be modified after it is
// passed to [NewValidator]. Issuer and Audience are required; every other
// field has a safe zero value.
type Config struct {
	// Issuer is the authorization server's issuer identifier. A token's "iss"
	// must equal it exactly, as must the "issuer" of discovered metadata.
	// Required: an absolute http(s) URL, or any non-empty string when Keys
	// or JWKSURL is set (nothing is discovered then; Google writes its
	// issuer both as "https://accounts.google.com" and as
	// "accounts.google.com").
	Issuer string

	// Audience lists the identifiers of this resource server. A token's
	// "aud" (a string or an array) must contain at least one of them
	// (RFC 9068 §4). Required.
	Audience []string

	// JWKSURL is the issuer's JWK Set document. Empty means it is discovered
	// from Issuer: RFC 8414 metadata first, then OpenID Connect Discovery.
	// A file URL of an absolute path (file:///etc/keys/jwks.json) reads the
	// set from disk under the same rules, and again when a refresh is due or
	// a token names an unknown kid (keys mounted from a secret). Must be
	// empty when Keys is set.
	JWKSURL string

	// Keys are static verification keys by "kid", used instead of any JWKS:
	// with Keys set the validator makes no request for keys at all. A value
	// is an *rsa.PublicKey (2048 to 8192 bits), an *ecdsa.PublicKey (P-256,
	// P-384, P-521), an ed25519.PublicKey, an *mldsa.PublicKey (Go 1.27;
	// its parameter set's algorithm must be listed), or a []byte HMAC secret, which
	// needs HS256, HS384 or HS512 in Algorithms and at least 32, 48 or 64
	// bytes for it (RFC 7518 §3.2). The key under "" verifies tokens without
	// a "kid"; a token naming a kid that is not here is invalid_token. Each
	// kid is bound to its key's type, so an HMAC token can never be checked
	// with a public key's bytes. Nil means keys come from the JWKS.
	// NewValidator refuses private keys, other types, an empty map, Keys with
	// JWKSURL, and Keys with an Introspection that has no Endpoint.
	Keys map[string]any

	// Algorithms is the allow-list of JWS "alg" values. Nil means RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA and
	// Ed25519 (RFC 9864; either name verifies with an Ed25519 key, and each
	// admits only itself). ML-DSA-44, ML-DSA-65 and ML-DSA-87 (RFC
	// 9964, post-quantum: AKP keys, each bound to its one parameter set) are
	// never in the default list: list them, in a build with Go 1.27 or newer
	// (crypto/mldsa); with an older Go they are not supported, and AKP keys
	// are skipped. "none" is never accepted; HS256, HS384 and HS512
	// only with an HMAC secret in Keys, never with a JWKS (RFC 8725 §3.1).
	Algorithms []string

	// TokenTypes lists the accepted JOSE header "typ" values, compared
	// case-insensitively with the "application/" prefix optional. Include ""
	// to accept tokens without "typ". Nil means "", "JWT" and "at+jwt"; any
	// other explicit type, such as "dpop+jwt" or "logout+jwt", is rejected so
	// that other kinds of JWT are not taken for access tokens (RFC 8725
	// §3.11). Set []string{"at+jwt"} to require RFC 9068 tokens.
	TokenTypes []string

	// Introspection enables RFC 7662 introspection of tokens that are not
	// JWTs (opaque or encrypted). Nil means such tokens are rejected as
	// invalid_token.
	Introspection *IntrospectionConfig

	// Leeway is the clock skew allowed when checking "exp", "nbf" and "iat".
	// Zero means none.
	Leeway time.Duration

	// HTTPClient makes every request to the issuer. Nil means
	// [http.DefaultClient]. Timeouts come from FetchTimeout either way.
	HTTPClient *http.Client

	// Now returns the current time for checking "exp", "nbf" and "iat". Nil
	// means [time.Now].
	Now func() time.Time

	// Logger receives key refresh failures and skipped JWKS keys. It never
	// receives tokens or secrets. Nil means no logging.
	Logger *slog.Logger

	// RefreshInterval is how often the JWKS is fetched again, and the most a
	// Cache-Control max-age on it can stretch that. Zero means one hour.
	RefreshInterval time.Duration

	// MinRefreshInterval bounds the fetches that tokens with an unknown key
	// ID start: at most 3 within any MinRefreshInterval, so that two key
	// rotations in quick succession are both picked up at once while made-up
	// key IDs cannot flood the issuer. A token never waits on this limit:
	// past it, an unknown key ID is rejected at once. It is also the least a
	// Cache-Control max-age can shorten RefreshInterval to. Zero means 30
	// seconds.
	MinRefreshInterval time.Duration

	// FetchTimeout bounds each fetch of metadata or keys, discovery
	// included. Zero means 10 seconds.
	FetchTimeout time.Duration

	// MaxKeyAge is how long the last good keys stay in use while refreshes
	// fail. After that, validation answers [ErrUnavailable] until a refresh
	// succeeds. Zero means 24 hours.
	MaxKeyAge time.Duration

	// VerifiedCacheSize bounds the cache of JWTs that passed every check: a
	// token seen again skips parsing and the signature check, while "exp",
	// "nbf" and "iat" are still checked on every call, and an entry is
	// dropped once the key that verified it leaves the JWKS. A hit needs the
	// whole token to match. Zero means 10,000 tokens; a negative value turns
	// the cache off.
	VerifiedCacheSize int

	// RoleClaims are JSON Pointers (RFC 6901) to the claims that carry roles,
	// as a string (one role) or an array of strings: "/roles",
	// "/realm_access/roles", "/resource_access/orders-api/roles",
	// "/cognito:groups", "/https:~1~1example.com~1roles" ("~1" is "/").
	// Claims.Roles is their union, in this order, without repeats; values of
	// other types are ignored and never reject a token. Nil means "/roles"
	// (Entra ID), "/permissions" (Auth0 RBAC) and "/realm_access/roles"
	// (Keycloak); an empty, non-nil slice means no roles. An invalid pointer
	// is a NewValidator error.
	RoleClaims []string

	// DPoP accepts DPoP-bound tokens (RFC 9449) through ValidateRequest.
	// Nil means the DPoP scheme and DPoP-bound tokens are refused.
	DPoP *DPoPConfig

	// Revocations is the list of revoked tokens consulted on every
	// validation, verified-token cache hits and introspected tokens
	// included: a token it names is refused with [ErrInvalidToken] ("The
	// access token was revoked"). Nil means no list. See [Revocations].
	Revocations *Revocations

	// RevocationFailOpen accepts tokens when Revocations cannot be read
	// (its store is down or slow). By default such a token is refused with
	// [ErrUnavailable]: revocation is a security check, and a list that
	// cannot be read could be hiding the token.
	RevocationFailOpen bool

	// StoreTimeout bounds each call to a Store: the DPoP replay cache of
	// NewReplayCache, Revocations and IntrospectionConfig.Store. Zero means
	// 500 milliseconds.
	StoreTimeout time.Duration

	// Observer sees every validation and every call to the authorization
	// server or a Store, for metrics and traces (the otelaccesstoken module
	// is one). Nil means nothing is observed, at no cost.
	Observer Observer

	// Profile adapts the validator to an authorization server whose tokens
	// depart from RFC 9068 (where the client and the audience are named,
	// claims that must hold given values, header members that mark tokens
	// no resource server can verify) and adds a check of the API's own. See
	// [Profile]; package provider fills it for each platform it knows. Nil
	// means RFC 9068 as it is.
	Profile *Profile

	// Decryption decrypts access tokens encrypted to this resource server
	// (JWE, RFC 7516): the payload must be a JWS announced by "cty" JWT or
	// at+jwt, verified like any access token; header members that replicate
	// claims (iss, aud, sub) must equal them; "zip" is refused. An unsigned
	// payload is accepted only under symmetric key management (dir,
	// A128KW, A192KW, A256KW), since anyone can encrypt to a public key.
	// A JWE naming a kid is decrypted with that key only. Nil means
	// five-part tokens are refused (or introspected, with Introspection).
	Decryption *DecryptionConfig

	// StrictStart makes NewValidator wait for the first key fetch and fail
	// if it fails. By default NewValidator returns at once and Validate
	// answers [ErrUnavailable] until keys arrive.
	StrictStart bool
}

// TokenValidator is what the adapters take: anything that turns a bearer
// token into claims or an error. [*Validator] implements it; tests can fake
// it, returning the sentinel errors of this package.
type TokenValidator interface {
	Validate(ctx context.Context, token string) (*Claims, error)
}

// Validator checks access tokens. It is safe for concurrent use. Create one
// with [NewValidator] per issuer and share it; call [Validator.Close] when
// done with it.
type Validator struct {
	issuer       string
	audience     []string
	algs         map[string]*algorithm
	types        []string // normalized, see normalizeType
	typeAbsentOK bool
	leeway       time.Duration
	now          func() time.Time
	keys         *keySource
	intro        *introspector  // nil without Config.Introspection
	verified     *verifiedCache // nil when Config.VerifiedCacheSize < 0; shared under a MultiIssuer
	dpop         *dpopChecker   // nil without Config.DPoP
	roleClaims   []jsonPointer  // from Config.RoleClaims
	profile      *profile       // nil without Config.Profile
	decrypter    *decrypter     // nil without Config.Decryption
	used         atomic.Int64   // when a MultiIssuer last used it, in ns since the MultiIssuer's epoch
	evictable    bool           // added by MultiIssuerConfig.Resolve, so subject to MaxIssuers

	observer     Observer     // nil without Config.Observer
	revocations  *Revocations // nil without Config.Revocations
	revFailOpen  bool
	storeTimeout time.Duration

	expiryOptional  bool                // JWTs without "exp" pass (Security Event Tokens, package ssf)
	issuerUnchecked bool                // "iss" is not compared (Transaction Tokens without an issuer, package txntoken)
	claimsRule      func(*Claims) error // applied once per token (a token format's rules, package txntoken)
}

var _ TokenValidator = (*Validator)(nil)

// NewValidator checks cfg and returns a Validator whose keys are fetched in
// the background. It does not fail or wait when the issuer is down unless
// cfg.StrictStart is set; ctx bounds only that wait and is not kept.
func NewValidator(ctx context.Context, cfg Config) (*Validator, error) {
	static := cfg.Keys != nil
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("accesstoken: Config.Issuer is required")
	case !static && cfg.JWKSURL == "":
		if err := checkEndpointURL(cfg.Issuer); err != nil {
			return nil, fmt.Errorf("accesstoken: Config.Issuer: %w", err)
		}
	}
	if len(cfg.Audience) == 0 || slices.Contains(cfg.Audience, "") {
		return nil, errors.New("accesstoken: Config.Audience must list at least one non-empty audience")
	}
	switch {
	case static && cfg.JWKSURL != "":
		return nil, errors.New("accesstoken: Config.Keys and Config.JWKSURL exclude each other; set one")
	case static && cfg.Introspection != nil && cfg.Introspection.Endpoint == "":
		return nil, errors.New("accesstoken: with Config.Keys nothing is discovered; set IntrospectionConfig.Endpoint")
	case cfg.Introspection != nil && cfg.Introspection.Endpoint == "" && checkEndpointURL(cfg.Issuer) != nil:
		return nil, fmt.Errorf("accesstoken: Config.Issuer %q is not a URL, so nothing can be discovered; set IntrospectionConfig.Endpoint", truncate(cfg.Issuer))
	case cfg.JWKSURL != "":
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("accesstoken: Config.JWKSURL: %w", err)
		}
	}
	for name, d := range map[string]time.Duration{
		"Leeway": cfg.Leeway, "RefreshInterval": cfg.RefreshInterval, "MinRefreshInterval": cfg.MinRefreshInterval,
		"FetchTimeout": cfg.FetchTimeout, "MaxKeyAge": cfg.MaxKeyAge, "StoreTimeout": cfg.StoreTimeout,
	} {
		if d < 0 {
			return nil, fmt.Errorf("accesstoken: Config.%s is negative", name)
		}
	}
	algs, err := allowList(cfg.Algorithms, static)
	if err != nil {
		return nil, err
	}
	v := &Validator{
		issuer:   cfg.Issuer,
		audience: append([]string(nil), cfg.Audience...),
		algs:     algs,
		leeway:   cfg.Leeway,
		now:      cfg.Now,

		revocations:  cfg.Revocations,
		revFailOpen:  cfg.RevocationFailOpen,
		storeTimeout: orDefault(cfg.StoreTimeout, defaultStoreTimeout),
		observer:     cfg.Observer,
	}
	types := cfg.TokenTypes
	if types == nil {
		types = []string{"", "JWT", "at+jwt"}
	}
	for _, t := range types {
		if t == "" {
			v.typeAbsentOK = true
		} else {
			v.types = append(v.types, normalizeType(t))
		}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if cfg.DPoP != nil {
		if v.dpop, err = newDPoPChecker(*cfg.DPoP, cfg.Leeway, v.now); err != nil {
			return nil, err
		}
		v.dpop.storeTimeout = v.storeTimeout
		v.dpop.observer, v.dpop.issuer = cfg.Observer, cfg.Issuer
	}
	if cfg.Revocations != nil {
		if err := cfg.Revocations.bind(cfg.Issuer, cfg.Observer); err != nil {
			return nil, err
		}
	}
	if v.roleClaims, err = parseRoleClaims(cfg.RoleClaims); err != nil {
		return nil, err
	}
	if cfg.Profile != nil {
		v.issuerUnchecked, v.claimsRule = cfg.Profile.issuerUnchecked, cfg.Profile.claimsRule
	}
	if v.profile, err = compileProfile(cfg.Profile); err != nil {
		return nil, err
	}
	if cfg.Decryption != nil {
		if v.decrypter, err = newDecrypter(*cfg.Decryption); err != nil {
			return nil, err
		}
	}
	v.keys = &keySource{
		issuer:     cfg.Issuer,
		jwksURL:    cfg.JWKSURL,
		client:     cfg.HTTPClient,
		allowed:    algs,
		logger:     cfg.Logger,
		refresh:    orDefault(cfg.RefreshInterval, defaultRefreshInterval),
		minRefresh: orDefault(cfg.MinRefreshInterval, defaultMinRefreshInterval),
		timeout:    orDefault(cfg.FetchTimeout, defaultFetchTimeout),
		maxKeyAge:  orDefault(cfg.MaxKeyAge, defaultMaxKeyAge),
		observer:   cfg.Observer,
		sameOrigin: cfg.Profile != nil && cfg.Profile.SameOriginJWKS,
	}
	if v.keys.client == nil {
		v.keys.client = http.DefaultClient
	}
	if v.keys.logger == nil {
		v.keys.logger = slog.New(slog.DiscardHandler)
	}
	v.keys.minRefresh = min(v.keys.minRefresh, v.keys.refresh)
	if static {
		set, err := staticKeySet(cfg.Keys, algs)
		if err != nil {
			return nil, err
		}
		v.keys.static = true
		v.keys.state.Store(&keyState{set: set, fetched: time.Now()})
	}
	switch {
	case cfg.VerifiedCacheSize == 0:
		v.verified = newVerifiedCache(defaultVerifiedCacheSize)
	case cfg.VerifiedCacheSize > 0:
		v.verified = newVerifiedCache(cfg.VerifiedCacheSize)
	}
	if cfg.Introspection != nil {
		if v.intro, err = newIntrospector(*cfg.Introspection, v.keys, cfg.Issuer, v.storeTimeout, cfg.Observer); err != nil {
			return nil, err
		}
	}
	first := v.keys.start()
	if cfg.StrictStart && first != nil {
		var err error
		select {
		case <-first.done:
			err = first.err
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("accesstoken: fetching keys at start: %w", err)
		}
	}
	return v, nil
}

const defaultVerifiedCacheSize = 10000

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// allowList resolves Config.Algorithms. HMAC algorithms are allowed only
// with static keys, where staticKeySet then demands a secret for each.
func allowList(names []string, static bool) (map[string]*algorithm, error) {
	all := supportedAlgorithms()
	algs := make(map[string]*algorithm, len(all))
	if names == nil {
		for _, a := range all {
			if a.kind != kindHMAC && a.kind != kindAKP { // ML-DSA is opt-in
				algs[a.name] = a
			}
		}
		return algs, nil
	}
	if len(names) == 0 {
		return nil, errors.New("accesstoken: Config.Algorithms is empty; nil means the default list")
	}
	for _, n := range names {
		var found *algorithm
		for _, a := range all {
			if a.name == n {
				found = a
			}
		}
		switch {
		case found == nil:
			return nil, fmt.Errorf("accesstoken: Config.Algorithms: %q is not supported (none never is)", n)
		case found.kind == kindHMAC && !static:
			return nil, fmt.Errorf("accesstoken: Config.Algorithms: %s needs an HMAC secret in Config.Keys; a JWKS never supplies one", n)
		}
		algs[n] = found
	}
	return algs, nil
}

// Validate checks a bearer token and returns its claims. Every failure is an
// [*Error] that matches one of [ErrNoToken], [ErrInvalidToken] (and
// [ErrTokenExpired]) or [ErrUnavailable].
//
// A JWT is verified locally: strict parsing, the algorithm allow-list, the
// signature against the issuer's JWKS, then "iss", "aud", "exp", "nbf" and
// "iat". Validate waits for a key fetch only when the token names a key it
// has not seen and no fetch ran in the last MinRefreshInterval, and never
// longer than ctx allows.
//
// Any other token is sent to the introspection endpoint when
// Config.Introspection is set, and rejected otherwise. Answers are cached
// (keyed by a SHA-256 of the token) and concurrent validations of one token
// share one request.
func (v *Validator) Validate(ctx context.Context, token string) (*Claims, error) {
	var start time.Time
	if v.observer != nil {
		start = time.Now()
	}
	c, e := v.validate(ctx, token)
	if e == nil {
		e = refuseBound(c)
	}
	if v.observer != nil {
		observe(ctx, v.observer, v.issuer, token, start, c, e)
	}
	if e != nil {
		return nil, e
	}
	return c, nil
}

func (v *Validator) validate(ctx context.Context, token string) (*Claims, *Error) {
	if e := checkTokenSize(token); e != nil {
		return nil, e
	}
	if isJWS(token) {
		return v.checkJWT(ctx, token, nil)
	}
	if v.decrypter != nil && strings.Count(token, ".") == 4 {
		return v.checkJWE(ctx, token)
	}
	return v.checkOther(ctx, token)
}

// checkTokenSize refuses an empty or oversized token before any parsing.
func checkTokenSize(token string) *Error {
	switch {
	case token == "":
		return newError(ErrNoToken, "", nil)
	case len(token) > maxTokenBytes:
		return newError(ErrInvalidToken, descTooLarge, fmt.Errorf("token of %d bytes exceeds %d", len(token), maxTokenBytes))
	}
	return nil
}

// isJWS reports whether token has the shape of a JWS compact serialization.
func isJWS(token string) bool { return strings.Count(token, ".") == 2 }

// verifySignature finds the issuer's keys for a parsed JWS and returns the
// one its signature verifies with. It fails closed: without a fitting key
// that verifies, the JWS is invalid_token.
func (v *Validator) verifySignature(ctx context.Context, p parsedJWS, sig []byte) (*verificationKey, *Error) {
	keys, e := v.keys.lookup(ctx, p.header.alg, p.header.kid, p.header.hasKID)
	if e != nil {
		return nil, e
	}
	err := errKeyMismatch
	for _, k := range keys {
		if !p.header.alg.fits(k) {
			continue
		}
		if err = p.header.alg.verify(p.signingInput, sig, k); err == nil {
			return k, nil
		}
	}
	return nil, newError(ErrInvalidToken, descSignature, err)
}

// checkJWT verifies a JWT and, with IntrospectionConfig.IntrospectJWTs,
// introspects it too. pc, when not nil, is the token's payload already
// parsed (by a MultiIssuer, for routing) and the verified-token cache already
// consulted.
func (v *Validator) checkJWT(ctx context.Context, token string, pc *parsedClaims) (*Claims, *Error) {
	c, e := v.validateJWT(ctx, token, pc)
	return v.thenIntrospect(ctx, token, c, e)
}

// thenIntrospect is the second step for a JWT that passed local checks: with
// IntrospectionConfig.IntrospectJWTs the endpoint decides (revocation). The
// revocation list, when there is one, comes last.
func (v *Validator) thenIntrospect(ctx context.Context, token string, c *Claims, e *Error) (*Claims, *Error) {
	if e == nil && v.intro != nil && v.intro.cfg.IntrospectJWTs {
		c, e = v.intro.introspect(ctx, token, v)
	}
	return v.thenRevocations(ctx, c, e)
}

// checkOther handles a token that is not a JWS: introspection, or a refusal.
func (v *Validator) checkOther(ctx context.Context, token string) (*Claims, *Error) {
	if v.intro != nil {
		c, e := v.intro.introspect(ctx, token, v)
		return v.thenRevocations(ctx, c, e)
	}
	return nil, refuseOpaque(token)
}

// thenRevocations is the last step of every accepted token: Profile.Check,
// then the revocation list, when there is one.
func (v *Validator) thenRevocations(ctx context.Context, c *Claims, e *Error) (*Claims, *Error) {
	if e != nil {
		return c, e
	}
	if e := v.profile.runCheck(ctx, c); e != nil {
		return nil, e
	}
	if v.revocations == nil {
		return c, nil
	}
	if e := v.revocations.check(ctx, c, v.storeTimeout, v.revFailOpen); e != nil {
		return nil, e
	}
	return c, nil
}

func refuseOpaque(token string) *Error {
	if strings.Count(token, ".") == 4 {
		return newError(ErrInvalidToken, descEncrypted, errors.New("token looks like a JWE and no introspection is configured"))
	}
	return newError(ErrInvalidToken, descOpaque, errors.New("token is not a JWT and no introspection is configured"))
}

// fromCache answers from a verified-token cache entry that v stored: the
// claims when the key that verified the token is still trusted and the token
// is within its validity period. ok is false when the entry is no longer
// usable; it is then dropped.
func (v *Validator) fromCache(token string, hit *verifiedEntry) (c *Claims, e *Error, ok bool) {
	if set, err := v.keys.current(); err == nil && hit.stillTrusted(set) {
		if e := v.checkTimes(&hit.claims.Claims); e != nil {
			v.verified.remove(token, hit)
			return nil, e, true
		}
		c := copyClaims(&hit.claims.Claims)
		c.via = viaVerified
		return c, nil, true
	}
	v.verified.remove(token, hit)
	return nil, nil, false
}

func (v *Validator) validateJWT(ctx context.Context, token string, pc *parsedClaims) (*Claims, *Error) {
	if v.verified != nil && pc == nil {
		if hit := v.verified.lookup(token); hit != nil && hit.owner == v {
			if c, e, ok := v.fromCache(token, hit); ok {
				return c, e
			}
		}
	}
	return v.verifyJWT(ctx, token, token, pc)
}

// verifyJWT verifies the JWS jws and its claims, and keeps the result in
// the verified-token cache under cacheKey: the token as sent, which for an
// encrypted token is the JWE around jws. pc, when not nil, is jws's payload
// already parsed.
func (v *Validator) verifyJWT(ctx context.Context, jws, cacheKey string, pc *parsedClaims) (*Claims, *Error) {
	var sigBuf [maxStackSignature]byte
	p, sig, e := v.parseJWS(jws, sigBuf[:])
	if e != nil {
		return nil, e
	}
	used, e := v.verifySignature(ctx, p, sig)
	if e != nil {
		return nil, e
	}
	if pc == nil {
		var e *Error
		if pc, e = parsePayload(p.payload); e != nil {
			return nil, e
		}
	}
	if e := v.checkClaims(pc, true); e != nil {
		return nil, e
	}
	if v.verified != nil {
		if set, err := v.keys.current(); err == nil {
			v.verified.store(cacheKey, &verifiedEntry{claims: pc, key: used, set: set, owner: v})
			return copyClaims(&pc.Claims), nil // the cache keeps pc; each caller gets a copy
		}
	}
	return &pc.Claims, nil
}

// parsePayload decodes and parses a JWS payload segment.
func parsePayload(segment string) (*parsedClaims, *Error) {
	payload, err := decodeSegment(segment)
	if err != nil {
		return nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("payload: %w", err))
	}
	pc, err := parseClaims(payload)
	if err != nil {
		return nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("payload: %w", err))
	}
	return pc, nil
}

// checkClaims applies the issuer, audience, Profile and time rules shared
// by JWTs and introspection answers, then reads the roles. requireExp is set
// for JWTs. The claims object is parsed once more, on the stack, for every
// JSON Pointer the rules and roles read, and not at all when none does.
func (v *Validator) checkClaims(pc *parsedClaims, requireExp bool) *Error {
	c := &pc.Claims
	if c.Issuer != v.issuer && !v.issuerUnchecked {
		return newError(ErrInvalidToken, descIssuer, fmt.Errorf("iss %q", truncate(c.Issuer)))
	}
	var buf [32]jsonMember
	var members []jsonMember
	if v.profile != nil || len(v.roleClaims) > 0 {
		var err error
		if members, err = parseObjectInto(pc.raw, buf[:0]); err != nil {
			return newError(ErrInvalidToken, descMalformed, err)
		}
	}
	if e := v.audienceOK(pc, members); e != nil {
		return e
	}
	if e := v.profile.apply(pc, members); e != nil {
		return e
	}
	if v.claimsRule != nil {
		if err := v.claimsRule(c); err != nil {
			return newError(ErrInvalidToken, descClaim, err)
		}
	}
	if requireExp && !v.expiryOptional && c.ExpiresAt.IsZero() {
		return newError(ErrInvalidToken, descMalformed, errors.New(`no "exp" claim`))
	}
	if e := v.checkTimes(c); e != nil {
		return e
	}
	pc.Roles = gatherRoles(members, v.roleClaims)
	if v.profile != nil {
		pc.scopes = v.profile.scopes
	}
	return nil
}

// checkTimes applies "exp", "nbf" and "iat" with the leeway. It runs on
// every validation, cached or not.
func (v *Validator) checkTimes(c *Claims) *Error {
	now := v.now()
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt.Add(v.leeway)) {
		e := newError(ErrInvalidToken, descExpired, fmt.Errorf("expired at %s", c.ExpiresAt.Format(time.RFC3339)))
		e.expired = true
		return e
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return newError(ErrInvalidToken, descNotYetValid, fmt.Errorf("not before %s", c.NotBefore.Format(time.RFC3339)))
	}
	if !c.IssuedAt.IsZero() && now.Add(v.leeway).Before(c.IssuedAt) {
		return newError(ErrInvalidToken, descIssuedInFuture, fmt.Errorf("issued at %s", c.IssuedAt.Format(time.RFC3339)))
	}
	return nil
}

func (v *Validator) audienceMatches(aud []string) bool {
	for _, a := range aud {
		for _, want := range v.audience {
			if a == want {
				return true
			}
		}
	}
	return false
}

// Refresh fetches the keys now, sharing a fetch already under way, and
// reports whether usable keys are in hand. Use it to warm up before taking
// traffic or in a readiness probe: when the keys were fetched less than
// Config.MinRefreshInterval ago it returns nil without a request. With
// static Config.Keys it returns nil.
func (v *Validator) Refresh(ctx context.Context) error {
	if v.keys.static {
		return nil
	}
	if st := v.keys.state.Load(); st != nil && time.Since(st.fetched) < v.keys.minRefresh {
		if _, err := v.keys.current(); err == nil {
			return nil
		}
	}
	if err := v.keys.await(ctx, false); err != nil {
		return fmt.Errorf("accesstoken: refreshing keys: %w", err)
	}
	return nil
}

// Close stops the background refresh and waits for it to end. Validate
// answers [ErrUnavailable] afterwards. Close is safe to call more than once.
func (v *Validator) Close() error {
	v.keys.close()
	return nil
}
