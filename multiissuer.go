package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file routes tokens among several issuers. A JWT goes to the issuer
// its "iss" names, read from the strictly parsed but not yet verified
// payload; the signature is then checked with that issuer's keys alone, so
// keys never cross issuers. An issuer that is neither listed nor resolved
// causes no request of any kind: "iss" is attacker text, and fetching
// whatever it names would be request forgery.

// MultiIssuerConfig configures a [MultiIssuer]. It must not be modified
// after it is passed to [NewMultiIssuer].
type MultiIssuerConfig struct {
	// Issuers are the trusted issuers, each with its own audience, keys,
	// algorithms and introspection. Two entries must not share an Issuer.
	// At most one may set Introspection: an opaque token names no issuer,
	// so it goes to that one, and sending it to another authorization server
	// would disclose it. May be empty when Resolve is set.
	Issuers []Config

	// Resolve, when set, is asked about a JWT's "iss" that Issuers does not
	// list, with the request's context: it returns the Config to trust that
	// issuer with (its Issuer must equal the one asked), or (nil, nil) when
	// the issuer is not trusted, which makes the token invalid_token. An
	// error makes the token ErrUnavailable. Concurrent first sights of an
	// issuer share one call; untrusted answers are not remembered, so that a
	// tenant added later is found, and Resolve should answer them cheaply.
	// A resolved issuer's Introspection serves its JWTs only (with
	// IntrospectJWTs). Nil means only Issuers are trusted.
	Resolve func(ctx context.Context, issuer string) (*Config, error)

	// MaxIssuers bounds how many issuers Resolve added are held at once;
	// past it the least recently used one is closed, once the validations
	// already on it finish. Listed issuers do not count. Zero means 100.
	MaxIssuers int
}

const defaultMaxIssuers = 100

// MultiIssuer validates tokens from several issuers (custom domains, a move
// between authorization servers, tenants), each bound to its own keys and
// rules. It is a [TokenValidator] for every adapter and safe for concurrent
// use. Create one with [NewMultiIssuer]; call [MultiIssuer.Close] when done.
//
// Its issuers share one verified-token cache, as large as the largest
// VerifiedCacheSize among Issuers (10,000 with Resolve alone), so that a
// token seen before is answered without routing; an issuer whose Config
// turns the cache off stores nothing in it.
type MultiIssuer struct {
	listed   map[string]*Validator // read-only after construction
	dpop     *Validator            // a listed issuer that accepts DPoP, for challenges before routing; or nil
	secret   []byte                // the nonce secret of issuers whose DPoPConfig has none
	opaque   *Validator            // the listed issuer with Introspection, or nil
	jweKids  map[string]*Validator // decryption key ID -> the listed issuer holding it
	resolve  func(context.Context, string) (*Config, error)
	max      int
	verified *verifiedCache // shared by every issuer's validator; nil when off
	epoch    time.Time      // the zero of Validator.used
	observer Observer       // of the first listed issuer with one: for validations that reach no issuer
	closed   atomic.Bool

	mu       sync.RWMutex
	resolved map[string]*resolvedIssuer
	pending  map[string]*resolveCall
}

// resolvedIssuer is a validator added by Resolve, with the validations under
// way on it, so that eviction closes it only when they are done.
type resolvedIssuer struct {
	v       *Validator
	refs    atomic.Int64
	evicted atomic.Bool
	once    sync.Once
}

type resolveCall struct {
	done chan struct{}
	r    *resolvedIssuer
	err  *Error
}

var _ RequestValidator = (*MultiIssuer)(nil)

// NewMultiIssuer starts a validator for every listed issuer. It fails when an
// issuer's Config is invalid, when an issuer is listed twice, when more than
// one sets Introspection, or when Issuers is empty and Resolve is nil. As
// with [NewValidator], it does not wait for keys unless a Config says
// StrictStart.
func NewMultiIssuer(ctx context.Context, cfg MultiIssuerConfig) (*MultiIssuer, error) {
	if len(cfg.Issuers) == 0 && cfg.Resolve == nil {
		return nil, errors.New("accesstoken: MultiIssuerConfig needs Issuers, Resolve or both")
	}
	if cfg.MaxIssuers < 0 {
		return nil, errors.New("accesstoken: MultiIssuerConfig.MaxIssuers is negative")
	}
	m := &MultiIssuer{
		listed:   make(map[string]*Validator, len(cfg.Issuers)),
		resolve:  cfg.Resolve,
		max:      cfg.MaxIssuers,
		resolved: map[string]*resolvedIssuer{},
		pending:  map[string]*resolveCall{},
		epoch:    time.Now(),
	}
	if m.max == 0 {
		m.max = defaultMaxIssuers
	}
	// One nonce secret for every issuer: a listed one's, or a random one.
	for _, c := range cfg.Issuers {
		if c.DPoP != nil && c.DPoP.Nonces && c.DPoP.NonceSecret != nil {
			if m.secret != nil && !hmac.Equal(m.secret, c.DPoP.NonceSecret) {
				return nil, errors.New("accesstoken: MultiIssuerConfig.Issuers set different DPoPConfig.NonceSecrets; " +
					"a client's nonce must pass whichever issuer its token names, so share one")
			}
			m.secret = c.DPoP.NonceSecret
		}
	}
	if m.secret == nil {
		m.secret = make([]byte, minNonceSecret)
		rand.Read(m.secret)
	}
	size := 0
	for i, c := range cfg.Issuers {
		c = m.shareNonceSecret(c)
		if _, dup := m.listed[c.Issuer]; dup {
			m.Close()
			return nil, fmt.Errorf("accesstoken: MultiIssuerConfig.Issuers lists %q twice", c.Issuer)
		}
		if c.Introspection != nil && m.opaque != nil {
			m.Close()
			return nil, fmt.Errorf("accesstoken: MultiIssuerConfig.Issuers: %q and %q both set Introspection; "+
				"an opaque token names no issuer, so set it on one", m.opaque.issuer, c.Issuer)
		}
		v, err := NewValidator(ctx, c)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("accesstoken: MultiIssuerConfig.Issuers[%d]: %w", i, err)
		}
		m.listed[c.Issuer] = v
		if c.Introspection != nil {
			m.opaque = v
		}
		if err := m.addDecryptionKeys(v); err != nil {
			m.Close()
			return nil, err
		}
		if v.dpop != nil && m.dpop == nil {
			m.dpop = v
		}
		if m.observer == nil {
			m.observer = c.Observer
		}
		size = max(size, cacheSize(c.VerifiedCacheSize))
	}
	if len(cfg.Issuers) == 0 {
		size = defaultVerifiedCacheSize
	}
	if size > 0 {
		m.verified = newVerifiedCache(size)
	}
	for _, v := range m.listed {
		m.share(v)
	}
	return m, nil
}

// shareNonceSecret gives a Config whose DPoP nonces have no secret the
// MultiIssuer's, so that one nonce passes every issuer.
func (m *MultiIssuer) shareNonceSecret(c Config) Config {
	if c.DPoP != nil && c.DPoP.Nonces && c.DPoP.NonceSecret == nil {
		d := *c.DPoP
		d.NonceSecret = m.secret
		c.DPoP = &d
	}
	return c
}

// cacheSize is the verified-token cache size a Config asks for; 0 means off.
func cacheSize(n int) int {
	switch {
	case n == 0:
		return defaultVerifiedCacheSize
	case n < 0:
		return 0
	}
	return n
}

// share makes v use the shared verified-token cache, unless its Config
// turned the cache off.
func (m *MultiIssuer) share(v *Validator) {
	if v.verified != nil {
		v.verified = m.verified
	}
}

// Validate checks a token with the validator of the issuer it names, as
// [Validator.Validate] does: a JWT by its "iss", any other token by the
// listed issuer that sets Introspection. A JWT whose issuer is neither
// listed nor resolved is [ErrInvalidToken], without any request.
func (m *MultiIssuer) Validate(ctx context.Context, token string) (*Claims, error) {
	start := m.startObserving()
	c, v, e := m.validate(ctx, token)
	if e == nil {
		e = refuseBound(c)
	}
	m.observe(ctx, start, v, token, c, e)
	if e != nil {
		return nil, e
	}
	return c, nil
}

// validate checks token with the validator of its issuer, and returns that
// validator too (nil when none was reached), for its DPoP settings.
func (m *MultiIssuer) validate(ctx context.Context, token string) (*Claims, *Validator, *Error) {
	if m.closed.Load() {
		return nil, nil, newError(ErrUnavailable, "", errClosed)
	}
	if e := checkTokenSize(token); e != nil {
		return nil, nil, e
	}
	if !isJWS(token) {
		if m.jweKids != nil && strings.Count(token, ".") == 4 {
			return m.validateJWE(ctx, token)
		}
		if m.opaque == nil {
			return nil, nil, refuseOpaque(token)
		}
		c, e := m.opaque.checkOther(ctx, token)
		return c, m.opaque, e
	}
	if c, v, e, ok := m.fromVerified(ctx, token); ok {
		return c, v, e
	}
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	pc, e := parsePayload(payload)
	if e != nil {
		return nil, nil, e
	}
	v, release, e := m.route(ctx, pc.Issuer)
	if e != nil {
		return nil, nil, e
	}
	defer release()
	c, e := v.checkJWT(ctx, token, pc)
	return c, v, e
}

// ValidateRequest checks r as [Validator.ValidateRequest] does, with the
// DPoP and certificate rules of the issuer the token names. Rejections that
// come before an issuer is known (no token, an unknown scheme) carry the
// DPoP challenge of the first listed issuer that accepts DPoP.
func (m *MultiIssuer) ValidateRequest(ctx context.Context, r *Request) (*Claims, error) {
	start := m.startObserving()
	dpop, e := requestScheme(r)
	if e == nil && r.Token == "" {
		e = newError(ErrNoToken, "", nil)
	}
	var c *Claims
	var v *Validator
	if e == nil {
		c, v, e = m.validate(ctx, r.Token)
	}
	if e == nil {
		e = v.checkBinding(ctx, r, c, dpop)
	}
	m.observe(ctx, start, v, r.Token, c, e)
	if e != nil {
		if v == nil {
			v = m.dpop
		}
		if v != nil {
			e = v.dpop.decorate(e, dpop)
		}
		return nil, e
	}
	return c, nil
}

// DPoPNonce returns the nonce DPoP proofs must carry now, as
// [Validator.DPoPNonce] does; the issuers share one, so it passes whichever
// issuer a token names. "" when no listed issuer requires nonces.
func (m *MultiIssuer) DPoPNonce() string {
	for _, v := range m.listed {
		if n := v.DPoPNonce(); n != "" {
			return n
		}
	}
	return ""
}

// route finds the validator for issuer, asking Resolve when needed. release
// must be called when the validation is done.
func (m *MultiIssuer) route(ctx context.Context, issuer string) (v *Validator, release func(), e *Error) {
	if v := m.listed[issuer]; v != nil {
		return v, func() {}, nil
	}
	if m.resolve == nil {
		return nil, nil, untrusted(issuer)
	}
	m.mu.RLock()
	r := m.resolved[issuer]
	if r != nil {
		r.refs.Add(1)
	}
	m.mu.RUnlock()
	if r == nil {
		if r, e = m.resolveIssuer(ctx, issuer); e != nil {
			return nil, nil, e
		}
	}
	m.touch(r.v)
	return r.v, func() { m.release(r) }, nil
}

// touch records that v is in use, for the least-recently-used order of
// resolved issuers. It writes at most once a millisecond per issuer, so that
// cores answering the same issuer do not contend for one cache line; listed
// issuers are never evicted and are not touched.
func (m *MultiIssuer) touch(v *Validator) {
	if !v.evictable {
		return
	}
	now := int64(time.Since(m.epoch))
	if now-v.used.Load() > int64(time.Millisecond) {
		v.used.Store(now)
	}
}

func untrusted(issuer string) *Error {
	return newError(ErrInvalidToken, descIssuer, fmt.Errorf("iss %q is not a trusted issuer", truncate(issuer)))
}

// resolveIssuer asks Resolve about issuer, sharing the call with concurrent
// first sights, and returns the issuer acquired (its refs counted).
func (m *MultiIssuer) resolveIssuer(ctx context.Context, issuer string) (*resolvedIssuer, *Error) {
	m.mu.Lock()
	if r := m.resolved[issuer]; r != nil {
		r.refs.Add(1)
		m.mu.Unlock()
		return r, nil
	}
	call, joined := m.pending[issuer]
	if !joined {
		call = &resolveCall{done: make(chan struct{})}
		m.pending[issuer] = call
	}
	m.mu.Unlock()
	if !joined {
		m.runResolve(ctx, issuer, call)
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, newError(ErrUnavailable, "", ctx.Err())
	}
	if call.err != nil {
		return nil, call.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if call.r.evicted.Load() {
		// Evicted between its resolution and this caller's turn: only under
		// more churn than MaxIssuers allows for. Fail closed.
		return nil, newError(ErrUnavailable, "", fmt.Errorf("issuer %q was evicted; raise MaxIssuers", truncate(issuer)))
	}
	call.r.refs.Add(1)
	return call.r, nil
}

// runResolve asks Resolve and installs the answer, evicting the least
// recently used resolved issuer when over MaxIssuers.
func (m *MultiIssuer) runResolve(ctx context.Context, issuer string, call *resolveCall) {
	r, e := m.newResolved(ctx, issuer)
	var evict []*resolvedIssuer
	m.mu.Lock()
	delete(m.pending, issuer)
	switch {
	case e != nil:
	case m.closed.Load():
		evict = append(evict, r)
		e = newError(ErrUnavailable, "", errClosed)
	default:
		m.resolved[issuer] = r
		r.v.used.Store(int64(time.Since(m.epoch)))
		for len(m.resolved) > m.max {
			evict = append(evict, m.evictOldest(issuer))
		}
	}
	call.r, call.err = r, e
	m.mu.Unlock()
	close(call.done)
	for _, old := range evict {
		old.evicted.Store(true)
		if old.refs.Load() == 0 {
			old.close()
		}
	}
}

// evictOldest removes the least recently used resolved issuer other than
// keep from the map. Called with m.mu held.
func (m *MultiIssuer) evictOldest(keep string) *resolvedIssuer {
	var oldest string
	var oldestUse int64
	for iss, r := range m.resolved {
		if u := r.v.used.Load(); iss != keep && (oldest == "" || u < oldestUse) {
			oldest, oldestUse = iss, u
		}
	}
	r := m.resolved[oldest]
	delete(m.resolved, oldest)
	return r
}

func (m *MultiIssuer) newResolved(ctx context.Context, issuer string) (*resolvedIssuer, *Error) {
	cfg, err := m.resolve(ctx, issuer)
	switch {
	case err != nil:
		return nil, newError(ErrUnavailable, "", fmt.Errorf("resolving issuer %q: %w", truncate(issuer), err))
	case cfg == nil:
		return nil, untrusted(issuer)
	case cfg.Issuer != issuer:
		return nil, newError(ErrUnavailable, "", fmt.Errorf("Resolve(%q) returned a Config for issuer %q", truncate(issuer), truncate(cfg.Issuer)))
	}
	v, err := NewValidator(ctx, m.shareNonceSecret(*cfg))
	if err != nil {
		return nil, newError(ErrUnavailable, "", fmt.Errorf("resolved issuer %q: %w", truncate(issuer), err))
	}
	m.share(v)
	v.evictable = true
	return &resolvedIssuer{v: v}, nil
}

// release ends one validation on r, closing r if it was evicted meanwhile.
func (m *MultiIssuer) release(r *resolvedIssuer) {
	if r.refs.Add(-1) == 0 && r.evicted.Load() {
		r.close()
	}
}

func (r *resolvedIssuer) close() { r.once.Do(func() { r.v.Close() }) }

// Refresh fetches the keys of every listed issuer now, as
// [Validator.Refresh] does, and joins their errors. Use it to warm up or in
// a readiness probe.
func (m *MultiIssuer) Refresh(ctx context.Context) error {
	var errs []error
	for _, v := range m.listed {
		if err := v.Refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the background work of every issuer. Validate answers
// [ErrUnavailable] afterwards. Close is safe to call more than once.
func (m *MultiIssuer) Close() error {
	m.closed.Store(true)
	m.mu.Lock()
	resolved := m.resolved
	m.resolved = map[string]*resolvedIssuer{}
	m.mu.Unlock()
	for _, v := range m.listed {
		v.Close()
	}
	for _, r := range resolved {
		r.evicted.Store(true)
		r.close()
	}
	return nil
}

// startObserving returns the start time of a validation when some issuer
// has an Observer (the zero time otherwise, at no cost).
func (m *MultiIssuer) startObserving() time.Time {
	if m.observer == nil && m.resolve == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports a validation to the Observer of the issuer that judged
// it, or to the MultiIssuer's when none did.
func (m *MultiIssuer) observe(ctx context.Context, start time.Time, v *Validator, token string, c *Claims, e *Error) {
	o, issuer := m.observer, ""
	if v != nil {
		o, issuer = v.observer, v.issuer
	}
	if o != nil && !start.IsZero() {
		observe(ctx, o, issuer, token, start, c, e)
	}
}

// addDecryptionKeys indexes a listed issuer's decryption keys by kid, for
// JWEs whose header names no issuer. One kid for two different keys is an
// error: the JWE could not be routed.
func (m *MultiIssuer) addDecryptionKeys(v *Validator) error {
	if v.decrypter == nil {
		return nil
	}
	if m.jweKids == nil {
		m.jweKids = map[string]*Validator{}
	}
	for kid, k := range v.decrypter.keys {
		if other, ok := m.jweKids[kid]; ok && !sameDecryptionKey(other.decrypter.keys[kid], k) {
			return fmt.Errorf("accesstoken: MultiIssuerConfig.Issuers: %q and %q hold different decryption keys under kid %q; "+
				"a JWE that names no issuer is routed by its kid", other.issuer, v.issuer, kid)
		}
		m.jweKids[kid] = v
	}
	return nil
}

func sameDecryptionKey(a, b *decryptionKey) bool {
	switch ka := a.key.(type) {
	case opaqueRSA:
		kb, ok := b.key.(opaqueRSA)
		return ok && ka.d.Public().(*rsa.PublicKey).Equal(kb.d.Public())
	case *ecdsa.PrivateKey:
		kb, ok := b.key.(*ecdsa.PrivateKey)
		return ok && ka.Equal(kb)
	case []byte:
		kb, ok := b.key.([]byte)
		return ok && hmac.Equal(ka, kb)
	}
	return false
}

// validateJWE routes a JWE: to the issuer its header's "iss" names (listed
// or resolved, as for a JWT), else to the listed issuer holding the key its
// "kid" names; the inner token's "iss" must then be that issuer's.
func (m *MultiIssuer) validateJWE(ctx context.Context, token string) (*Claims, *Validator, *Error) {
	if c, v, e, ok := m.fromVerified(ctx, token); ok {
		return c, v, e
	}
	first, _, _ := strings.Cut(token, ".")
	raw, err := decodeSegment(first)
	if err != nil {
		return nil, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("JWE header: %w", err))
	}
	members, err := parseObject(raw)
	if err != nil {
		return nil, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("JWE header: %w", err))
	}
	var iss, kid string
	var hasIss bool
	for _, mb := range members {
		switch string(mb.name) {
		case "iss":
			hasIss = true
			iss, err = jsonString(mb.value)
		case "kid":
			kid, err = jsonString(mb.value)
		}
		if err != nil {
			return nil, nil, newError(ErrInvalidToken, descMalformed, fmt.Errorf("JWE header member %q: %w", mb.name, err))
		}
	}
	if hasIss {
		v, release, e := m.route(ctx, iss)
		if e != nil {
			return nil, nil, e
		}
		defer release()
		if v.decrypter == nil {
			return nil, v, newError(ErrInvalidToken, descJWE, fmt.Errorf("issuer %q has no Config.Decryption", truncate(iss)))
		}
		c, e := v.checkJWE(ctx, token)
		return c, v, e
	}
	v := m.jweKids[kid]
	if v == nil {
		return nil, nil, newError(ErrInvalidToken, descJWE, fmt.Errorf("no listed issuer holds decryption key %q", truncate(kid)))
	}
	c, e := v.checkJWE(ctx, token)
	return c, v, e
}

// fromVerified answers a token (JWS or JWE) from the shared verified-token
// cache, with the validator that stored it; ok is false on a miss or an
// entry no longer usable.
func (m *MultiIssuer) fromVerified(ctx context.Context, token string) (*Claims, *Validator, *Error, bool) {
	if m.verified == nil {
		return nil, nil, nil, false
	}
	hit := m.verified.lookup(token)
	if hit == nil {
		return nil, nil, nil, false
	}
	v := hit.owner
	m.touch(v)
	c, e, ok := v.fromCache(token, hit)
	if !ok {
		return nil, nil, nil, false
	}
	c, e = v.thenIntrospect(ctx, token, c, e)
	return c, v, e, true
}
