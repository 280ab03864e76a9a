package accesstoken

import (
	"container/list"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IntrospectionConfig enables RFC 7662 token introspection, for opaque
// tokens (and, with IntrospectJWTs, for JWTs too). A zero value of any field
// but ClientID has a documented default.
type IntrospectionConfig struct {
	// Endpoint is the introspection endpoint. Empty means the
	// "introspection_endpoint" of the issuer's metadata (RFC 8414).
	Endpoint string

	// ClientID identifies this resource server to the endpoint. Required.
	ClientID string

	// ClientSecret authenticates it with client_secret_basic or
	// client_secret_post. Never logged nor put in an error.
	ClientSecret string

	// AuthMethod is how the client authenticates (RFC 7591 §2 names):
	// "client_secret_basic" (the default when empty), "client_secret_post" or
	// "private_key_jwt" (RFC 7523 §2.2).
	AuthMethod string

	// PrivateKey signs the client assertions of private_key_jwt: an
	// *rsa.PrivateKey (RS256), *ecdsa.PrivateKey (ES256, ES384 or ES512 by
	// curve) or ed25519.PrivateKey (EdDSA).
	PrivateKey crypto.Signer

	// KeyID is the "kid" header of client assertions. Empty means none.
	KeyID string

	// CacheTTL is the longest an active answer is reused. An answer never
	// outlives the token's "exp". Zero means 5 minutes.
	CacheTTL time.Duration

	// InactiveCacheTTL is how long an inactive answer is reused, so that a
	// client retrying a dead token does not reach the endpoint each time.
	// Zero means 10 seconds.
	InactiveCacheTTL time.Duration

	// CacheSize bounds the number of cached answers; the least recently used
	// goes first. Zero means 10,000; a negative value disables the cache.
	CacheSize int

	// AcceptMissingAudience accepts active answers without "aud". By
	// default an answer must name one of Config.Audience, as a JWT must
	// (RFC 7662 §4). Some servers leave "aud" out of tokens issued without a
	// resource indicator (RFC 8707).
	AcceptMissingAudience bool

	// SignedResponses asks for JWT answers (RFC 9701, Accept:
	// application/token-introspection+jwt) and accepts only an answer signed
	// by the issuer's keys (its JWKS or Config.Keys, under
	// Config.Algorithms) with "typ" token-introspection+jwt, "iss" the
	// issuer, "aud" naming ClientID or one of Config.Audience, "iat" not in
	// the future, and the answer in "token_introspection". Anything else,
	// a plain JSON answer included, is ErrUnavailable. False means plain
	// JSON answers.
	SignedResponses bool

	// Store shares answers among the replicas of an API (for example
	// redisstore over one Redis), so that a token is introspected about once
	// however many replicas see it: a replica that finds no answer takes a
	// short lease and asks, the others wait for its answer while the lease
	// lasts. Keys are hashes of the issuer, ClientID and token, never the
	// token; values are the endpoint's answers, kept as long as the local
	// cache would keep them (CacheTTL, "exp", InactiveCacheTTL), and judged
	// by each replica as if it had asked. The store is an optimisation:
	// every call is bounded by Config.StoreTimeout, and when the store fails
	// the replica asks the endpoint and leaves the store alone for 5
	// seconds. Nil means answers are cached in this process only.
	Store Store

	// Introspect, when set, replaces the RFC 7662 request, for authorization
	// servers that check tokens another way (Google's tokeninfo endpoint,
	// used by package provider). It asks endpoint (Endpoint, or the
	// discovered one) about token with client (Config.HTTPClient, never
	// following redirects) and returns the answer as an RFC 7662 §2.2 JSON
	// object: {"active": false} for a token the server refused, the claims
	// with "active": true for a good one. An error means the server could
	// not be asked or answered garbage, and makes the token [ErrUnavailable].
	// ctx carries FetchTimeout's deadline. The cache, the sharing of
	// concurrent calls, Store and every claim rule apply as for RFC 7662;
	// ClientID, ClientSecret, AuthMethod and PrivateKey are not used, and
	// SignedResponses cannot be set. Nil means RFC 7662.
	Introspect func(ctx context.Context, client *http.Client, endpoint, token string) ([]byte, error)

	// IntrospectJWTs sends JWTs to the endpoint as well, after they pass
	// local verification, so that revoked JWTs are refused. The claims are
	// then the endpoint's. By default JWTs are only verified locally.
	IntrospectJWTs bool
}

const (
	defaultCacheTTL         = 5 * time.Minute
	defaultInactiveCacheTTL = 10 * time.Second
	defaultCacheSize        = 10000
	maxIntrospectionBytes   = 64 << 10
	assertionLifetime       = time.Minute
)

// introspector is the RFC 7662 client with its cache.
type introspector struct {
	cfg      IntrospectionConfig
	client   *http.Client // a copy of the configured one that never follows redirects
	keys     *keySource   // for the discovered endpoint, the lifetime and the timeout
	issuer   string
	assertFn jwt.SigningMethod

	mu       sync.Mutex
	entries  map[[sha256.Size]byte]*list.Element
	lru      list.List // of *cacheEntry, most recent first
	inflight map[[sha256.Size]byte]*introspectCall
	hashes   hashPool // cache keys

	shared *sharedCache // nil without IntrospectionConfig.Store
}

type cacheEntry struct {
	key     [sha256.Size]byte
	claims  *Claims
	err     *Error
	expires time.Time
}

type introspectCall struct {
	done   chan struct{}
	claims *Claims
	err    *Error
}

func newIntrospector(cfg IntrospectionConfig, keys *keySource, issuer string, storeTimeout time.Duration, observer Observer) (*introspector, error) {
	if cfg.Introspect != nil && cfg.SignedResponses {
		return nil, errors.New("accesstoken: IntrospectionConfig.Introspect and SignedResponses exclude each other")
	}
	if cfg.ClientID == "" && cfg.Introspect == nil {
		return nil, errors.New("accesstoken: IntrospectionConfig.ClientID is required")
	}
	if cfg.Endpoint != "" {
		if err := checkEndpointURL(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("accesstoken: IntrospectionConfig.Endpoint: %w", err)
		}
	}
	if cfg.CacheTTL < 0 || cfg.InactiveCacheTTL < 0 {
		return nil, errors.New("accesstoken: IntrospectionConfig cache TTLs must not be negative")
	}
	in := &introspector{cfg: cfg, keys: keys, issuer: issuer,
		entries: map[[sha256.Size]byte]*list.Element{}, inflight: map[[sha256.Size]byte]*introspectCall{}}
	switch cfg.AuthMethod {
	case "", "client_secret_basic", "client_secret_post":
		if cfg.ClientSecret == "" && cfg.Introspect == nil {
			return nil, errors.New("accesstoken: IntrospectionConfig.ClientSecret is required for client_secret_basic and client_secret_post")
		}
	case "private_key_jwt":
		switch k := cfg.PrivateKey.(type) {
		case *rsa.PrivateKey:
			in.assertFn = jwt.SigningMethodRS256
		case *ecdsa.PrivateKey:
			in.assertFn = map[int]jwt.SigningMethod{256: jwt.SigningMethodES256, 384: jwt.SigningMethodES384, 521: jwt.SigningMethodES512}[k.Curve.Params().BitSize]
		case ed25519.PrivateKey:
			in.assertFn = jwt.SigningMethodEdDSA
		}
		if in.assertFn == nil {
			return nil, errors.New("accesstoken: private_key_jwt needs an RSA, ECDSA (P-256/384/521) or Ed25519 IntrospectionConfig.PrivateKey")
		}
	default:
		return nil, fmt.Errorf("accesstoken: IntrospectionConfig.AuthMethod %q is not supported", cfg.AuthMethod)
	}
	if in.cfg.CacheTTL == 0 {
		in.cfg.CacheTTL = defaultCacheTTL
	}
	if in.cfg.InactiveCacheTTL == 0 {
		in.cfg.InactiveCacheTTL = defaultInactiveCacheTTL
	}
	if in.cfg.CacheSize == 0 {
		in.cfg.CacheSize = defaultCacheSize
	}
	if cfg.Store != nil {
		in.shared = &sharedCache{store: cfg.Store, timeout: storeTimeout, observer: observer, issuer: issuer}
	}
	client := *keys.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	in.client = &client
	return in, nil
}

// introspect answers from the cache, or joins or starts the one request for
// this token. The upstream request runs detached from ctx, so a caller that
// gives up does not fail the others waiting on it.
func (in *introspector) introspect(ctx context.Context, token string, v *Validator) (*Claims, *Error) {
	key := in.hashes.sum256(token)
	now := v.now()
	in.mu.Lock()
	if el, ok := in.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) {
			in.lru.MoveToFront(el)
			in.mu.Unlock()
			c, err := copyClaims(e.claims), e.err
			if v.observer != nil {
				if c != nil {
					c.via = viaIntrospection
				}
				if err != nil {
					cp := *err
					cp.via = viaIntrospection
					err = &cp
				}
			}
			return c, err
		}
		in.lru.Remove(el)
		delete(in.entries, key)
	}
	call, joined := in.inflight[key]
	if !joined {
		if err := in.keys.ctx.Err(); err != nil {
			in.mu.Unlock()
			return nil, newError(ErrUnavailable, "", errClosed)
		}
		call = &introspectCall{done: make(chan struct{})}
		in.inflight[key] = call
		in.keys.wg.Add(1)
		go in.run(ctx, key, token, call, v)
	}
	in.mu.Unlock()
	select {
	case <-call.done:
		return copyClaims(call.claims), call.err
	case <-ctx.Done():
		return nil, newError(ErrUnavailable, "", ctx.Err())
	}
}

func copyClaims(c *Claims) *Claims {
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

// run makes the upstream request for one token and caches the answer.
func (in *introspector) run(caller context.Context, key [sha256.Size]byte, token string, call *introspectCall, v *Validator) {
	defer in.keys.wg.Done()
	// The call outlives the caller that started it (others may be waiting)
	// but keeps its values (a trace), and ends with Close; fetch and each
	// store call have their own bounds.
	ctx, cancel := context.WithCancel(context.WithoutCancel(caller))
	defer cancel()
	defer context.AfterFunc(in.keys.ctx, cancel)()
	var publish func()
	if in.shared != nil {
		call.claims, call.err, publish = in.answerShared(ctx, token, v)
	} else {
		call.claims, call.err = in.request(ctx, token, v)
	}
	if call.err != nil && call.err.kind == ErrUnavailable {
		in.keys.logger.Warn("accesstoken: introspection failed", "issuer", in.issuer, "error", call.err.Err)
	}
	in.mu.Lock()
	delete(in.inflight, key)
	in.store(key, call.claims, call.err, v.now())
	in.mu.Unlock()
	close(call.done)
	if publish != nil {
		publish()
	}
}

// expiry is how long an answer may be reused: an active one until
// min(CacheTTL, exp), an inactive or refused one for InactiveCacheTTL, a
// failure to ask not at all (ok false).
func (in *introspector) expiry(c *Claims, e *Error, now time.Time) (expires time.Time, ok bool) {
	if e != nil && e.kind == ErrUnavailable {
		return time.Time{}, false
	}
	expires = now.Add(in.cfg.InactiveCacheTTL)
	if e == nil {
		expires = now.Add(in.cfg.CacheTTL)
		if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(expires) {
			expires = c.ExpiresAt
		}
	}
	return expires, now.Before(expires)
}

// store caches an answer in this process for as long as expiry says.
func (in *introspector) store(key [sha256.Size]byte, c *Claims, e *Error, now time.Time) {
	if in.cfg.CacheSize < 0 {
		return
	}
	expires, ok := in.expiry(c, e, now)
	if !ok {
		return
	}
	in.entries[key] = in.lru.PushFront(&cacheEntry{key: key, claims: c, err: e, expires: expires})
	for in.lru.Len() > in.cfg.CacheSize {
		oldest := in.lru.Back()
		in.lru.Remove(oldest)
		delete(in.entries, oldest.Value.(*cacheEntry).key)
	}
}

// request asks the endpoint about token (RFC 7662 §2.1) and judges the
// answer (§2.2). Anything wrong with the exchange is ErrUnavailable; only a
// well-formed answer can make the token invalid.
func (in *introspector) request(ctx context.Context, token string, v *Validator) (*Claims, *Error) {
	raw, e := in.fetch(ctx, token, v)
	if e != nil {
		return nil, e
	}
	return in.judge(raw, v)
}

// fetch asks the endpoint about token and returns its answer, verified when
// SignedResponses is set. Anything wrong with the exchange is
// ErrUnavailable.
func (in *introspector) fetch(ctx context.Context, token string, v *Validator) ([]byte, *Error) {
	unavailable := func(err error) ([]byte, *Error) {
		return nil, newError(ErrUnavailable, "", fmt.Errorf("introspection: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, in.keys.timeout)
	defer cancel()
	endpoint := in.cfg.Endpoint
	if endpoint == "" {
		meta, err := in.keys.metadata(ctx)
		if err != nil {
			return unavailable(err)
		}
		if endpoint = meta.introspectionEndpoint; endpoint == "" {
			return unavailable(errors.New("the issuer's metadata has no introspection_endpoint"))
		}
	}
	ctx, end := startCall(ctx, v.observer, Call{Kind: callIntrospection, Issuer: in.issuer, URL: endpoint})
	var raw []byte
	var e *Error
	if in.cfg.Introspect != nil {
		var err error
		if raw, err = in.cfg.Introspect(ctx, in.client, endpoint, token); err != nil {
			raw, e = unavailable(err)
		}
	} else {
		raw, e = in.post(ctx, endpoint, token, v)
	}
	if e != nil {
		end(e)
	} else {
		end(nil)
	}
	return raw, e
}

// post makes the introspection request.
func (in *introspector) post(ctx context.Context, endpoint, token string, v *Validator) ([]byte, *Error) {
	unavailable := func(err error) ([]byte, *Error) {
		return nil, newError(ErrUnavailable, "", fmt.Errorf("introspection: %w", err))
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	switch in.cfg.AuthMethod {
	case "client_secret_post":
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_secret", in.cfg.ClientSecret)
	case "private_key_jwt":
		assertion, err := in.assertion(endpoint)
		if err != nil {
			return unavailable(err)
		}
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return unavailable(err)
	}
	if in.cfg.AuthMethod == "" || in.cfg.AuthMethod == "client_secret_basic" {
		// RFC 6749 §2.3.1: both parts are form-encoded before base64.
		creds := url.QueryEscape(in.cfg.ClientID) + ":" + url.QueryEscape(in.cfg.ClientSecret)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	want := "application/json"
	if in.cfg.SignedResponses {
		want = mediaSignedIntrospection
	}
	req.Header.Set("Accept", want)
	resp, err := in.client.Do(req)
	if err != nil {
		return unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return unavailable(fmt.Errorf("HTTP status %d", resp.StatusCode))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != want {
		return unavailable(fmt.Errorf("media type %q is not %s", truncate(resp.Header.Get("Content-Type")), want))
	}
	raw, err := readLimited(resp.Body, maxIntrospectionBytes)
	if err != nil {
		return unavailable(err)
	}
	if in.cfg.SignedResponses {
		if raw, err = in.verifySigned(ctx, raw, v); err != nil {
			return unavailable(fmt.Errorf("signed answer: %w", err))
		}
	}
	return raw, nil
}

// judge applies RFC 7662 §2.2 and the claim rules to an answer.
func (in *introspector) judge(raw []byte, v *Validator) (*Claims, *Error) {
	members, err := parseObject(raw)
	if err != nil {
		return nil, newError(ErrUnavailable, "", fmt.Errorf("introspection answer: %w", err))
	}
	active := false
	var tokenType, tokenUse string
	for _, m := range members {
		switch string(m.name) {
		case "active":
			active = string(m.value) == "true"
		case "token_type":
			tokenType, _ = jsonString(m.value)
		case "token_use":
			tokenUse, _ = jsonString(m.value)
		}
	}
	if !active {
		return nil, newError(ErrInvalidToken, descInactive, errors.New(`introspection answered "active" other than true`))
	}
	switch {
	case strings.EqualFold(tokenType, "refresh_token"), strings.EqualFold(tokenType, "id_token"),
		tokenUse != "" && tokenUse != "access_token":
		return nil, newError(ErrInvalidToken, descInvalid, fmt.Errorf("introspection says the token is a %q", truncate(tokenType+tokenUse)))
	}
	pc, err := parseClaims(raw)
	if err != nil {
		return nil, newError(ErrUnavailable, "", fmt.Errorf("introspection answer: %w", err))
	}
	pc.Introspected = true
	if pc.Issuer == "" {
		pc.Issuer = v.issuer // iss is optional in an answer; the endpoint speaks for our issuer
	}
	pc.skipAudience = !pc.hasAud && in.cfg.AcceptMissingAudience
	if e := v.checkClaims(pc, false); e != nil {
		return nil, e
	}
	return &pc.Claims, nil
}

// assertion makes an RFC 7523 §3 client assertion for the endpoint.
func (in *introspector) assertion(endpoint string) (string, error) {
	now := time.Now()
	id := make([]byte, 16)
	rand.Read(id)
	t := jwt.NewWithClaims(in.assertFn, jwt.MapClaims{
		"iss": in.cfg.ClientID,
		"sub": in.cfg.ClientID,
		"aud": []string{in.issuer, endpoint},
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(id),
	})
	if in.cfg.KeyID != "" {
		t.Header["kid"] = in.cfg.KeyID
	}
	var key any = in.cfg.PrivateKey
	return t.SignedString(key)
}

const mediaSignedIntrospection = "application/token-introspection+jwt"

// verifySigned checks an RFC 9701 answer and returns the introspection
// answer it carries ("token_introspection").
func (in *introspector) verifySigned(ctx context.Context, body []byte, v *Validator) ([]byte, error) {
	token := strings.TrimSpace(string(body))
	if !isJWS(token) {
		return nil, errors.New("not a compact JWS")
	}
	var sigBuf [maxStackSignature]byte
	p, sig, e := v.parseJWSOfType(token, sigBuf[:], "token-introspection+jwt")
	if e != nil {
		return nil, e.cause()
	}
	if _, e := v.verifySignature(ctx, p, sig); e != nil {
		return nil, e.cause()
	}
	payload, err := decodeSegment(p.payload)
	if err != nil {
		return nil, err
	}
	pc, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	switch {
	case pc.Issuer != v.issuer:
		return nil, fmt.Errorf("iss %q is not the issuer", truncate(pc.Issuer))
	case !slices.Contains(pc.Audience, in.cfg.ClientID) && !v.audienceMatches(pc.Audience):
		return nil, errors.New("aud names neither ClientID nor one of Config.Audience")
	case pc.IssuedAt.IsZero():
		return nil, errors.New("no iat")
	case pc.IssuedAt.After(v.now().Add(v.leeway)):
		return nil, errors.New("iat in the future")
	}
	var buf [16]jsonMember
	members, err := parseObjectInto(payload, buf[:0])
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if string(m.name) == "token_introspection" && len(m.value) > 0 && m.value[0] == '{' {
			return m.value, nil
		}
	}
	return nil, errors.New(`no "token_introspection" object`)
}
