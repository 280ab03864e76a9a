package accesstoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// This file checks DPoP proofs (RFC 9449): the proof is a JWT the client
// signs for each request with the key its access token is bound to.

// DPoPConfig accepts DPoP-bound access tokens (RFC 9449). A DPoPConfig must
// not be modified after it is passed to [NewValidator].
type DPoPConfig struct {
	// Required accepts only DPoP-bound tokens under the DPoP scheme: a bearer
	// token is refused (invalid_token), and challenges offer only DPoP.
	// False accepts bearer tokens beside DPoP-bound ones.
	Required bool

	// Algorithms are the proof algorithms accepted, announced in the DPoP
	// challenge's "algs". Nil means ES256, ES384, ES512, PS256, RS256, EdDSA
	// and Ed25519. Only asymmetric algorithms: "none" and HMAC never.
	Algorithms []string

	// MaxAge is how old a proof's "iat" may be; the proof may also be up to
	// Config.Leeway in the future, and MaxAge + Leeway in the past, by
	// Config.Now. Zero means 60 seconds.
	MaxAge time.Duration

	// Nonces requires server-issued nonces in proofs (RFC 9449 §8, §9). A
	// proof without a current nonce is refused with [ErrUseDPoPNonce] and a
	// fresh nonce; adapters send the current nonce in a DPoP-Nonce header
	// on every response. A nonce stays valid for 5 to 10 minutes and may be
	// used for any number of requests. False means no nonces.
	Nonces bool

	// NonceSecret makes nonces: replicas that share it accept each other's
	// nonces. At least 32 bytes. Nil means a random secret per validator, so
	// a client that moves to another replica is asked for a new nonce once.
	NonceSecret []byte

	// Replay remembers the "jti" of every accepted proof until it could no
	// longer pass the "iat" check, so that no proof is accepted twice. When
	// it cannot answer, the request is refused with [ErrUnavailable]: this
	// check fails closed. Share one across replicas (for example
	// NewReplayCache over a shared Store); otherwise a proof replayed
	// against another replica passes. Nil means an in-memory cache of at
	// most 200,000 entries (about 130 bytes each) per validator, which never
	// forgets an unexpired jti to make room and answers ErrUnavailable when
	// full.
	Replay ReplayCache
}

// ReplayCache remembers keys until they expire. Keys are hashes and never
// contain a token or a proof.
type ReplayCache interface {
	// Remember reports whether key is new, and keeps it until expires;
	// false means it was seen before and has not expired. An error means
	// the cache could not answer.
	Remember(ctx context.Context, key string, expires time.Time) (bool, error)
}

const (
	defaultDPoPMaxAge   = time.Minute
	maxProofBytes       = 8 << 10
	nonceWindow         = 5 * time.Minute
	minNonceSecret      = 32
	defaultReplayMax    = 200000
	dpopProofType       = "dpop+jwt"
	defaultDPoPAlgNames = "ES256 ES384 ES512 PS256 RS256 EdDSA Ed25519"
)

// dpopChecker is a validator's DPoP configuration, ready to use. A nil
// *dpopChecker means DPoP is not accepted.
type dpopChecker struct {
	cfg      DPoPConfig
	algs     map[string]*algorithm
	algList  string // for the challenge's "algs"
	maxAge   time.Duration
	leeway   time.Duration
	secret   []byte
	replay   ReplayCache
	inMemory bool // replay is the default cache, which never blocks
	// storeTimeout bounds each call to any other replay cache
	// (Config.StoreTimeout).
	storeTimeout time.Duration
	observer     Observer // Config.Observer, for store calls
	issuer       string
	now          func() time.Time

	// Proof keys by the exact bytes of their JWK: clients sign every proof
	// with one key, so its parse and thumbprint are done once.
	keysMu sync.RWMutex
	keys   map[string]*proofKey

	hashes hashPool // for ath and replay keys
}

// proofKey is a proof's jwk, parsed and checked, with its RFC 7638
// thumbprint.
type proofKey struct {
	key   *verificationKey
	thumb string
}

const maxProofKeys = 10000

func newDPoPChecker(cfg DPoPConfig, leeway time.Duration, now func() time.Time) (*dpopChecker, error) {
	d := &dpopChecker{cfg: cfg, maxAge: cfg.MaxAge, leeway: leeway, replay: cfg.Replay, now: now, keys: map[string]*proofKey{}}
	if d.maxAge < 0 {
		return nil, errors.New("accesstoken: DPoPConfig.MaxAge is negative")
	}
	if d.maxAge == 0 {
		d.maxAge = defaultDPoPMaxAge
	}
	names := cfg.Algorithms
	if names == nil {
		names = strings.Fields(defaultDPoPAlgNames)
	}
	if len(names) == 0 {
		return nil, errors.New("accesstoken: DPoPConfig.Algorithms is empty; nil means the default list")
	}
	d.algs = map[string]*algorithm{}
	for _, n := range names {
		var found *algorithm
		for _, a := range supportedAlgorithms() {
			if a.name == n && a.kind != kindHMAC && a.kind != kindAKP {
				found = a
			}
		}
		if found == nil {
			return nil, fmt.Errorf("accesstoken: DPoPConfig.Algorithms: %q is not a supported asymmetric algorithm", n)
		}
		d.algs[n] = found
	}
	d.algList = strings.Join(names, " ")
	switch {
	case cfg.NonceSecret == nil:
		d.secret = make([]byte, minNonceSecret)
		rand.Read(d.secret)
	case len(cfg.NonceSecret) < minNonceSecret:
		return nil, fmt.Errorf("accesstoken: DPoPConfig.NonceSecret has %d bytes; use at least %d random bytes", len(cfg.NonceSecret), minNonceSecret)
	default:
		d.secret = append([]byte(nil), cfg.NonceSecret...)
	}
	if d.replay == nil {
		d.replay = newMemoryReplay(defaultReplayMax, now)
		d.inMemory = true
	}
	return d, nil
}

// decorate adds the DPoP side of the challenge to a rejection of a request
// (dpopRequest: it used the DPoP scheme). It copies e, which may be shared
// by a cache.
func (d *dpopChecker) decorate(e *Error, dpopRequest bool) *Error {
	if d == nil {
		return e
	}
	cp := *e
	cp.dpopAlgs = d.algList
	cp.dpopFailed = dpopRequest
	cp.bearerOff = d.cfg.Required
	if d.cfg.Nonces && cp.DPoPNonce == "" {
		cp.DPoPNonce = d.nonce(d.now())
	}
	return &cp
}

func invalidProof(format string, args ...any) *Error {
	return newError(ErrInvalidDPoPProof, descDPoPProof, fmt.Errorf("DPoP proof: "+format, args...))
}

// checkProof applies RFC 9449 §4.3 to r's proof for a token bound to jkt.
func (d *dpopChecker) checkProof(ctx context.Context, r *Request, jkt string, now time.Time) *Error {
	proof := r.DPoPProof
	switch {
	case proof == "":
		return invalidProof("none with the DPoP scheme")
	case len(proof) > maxProofBytes:
		return invalidProof("larger than %d bytes", maxProofBytes)
	case strings.Contains(proof, ","):
		return invalidProof("two DPoP header fields or two proofs in one")
	case strings.Count(proof, ".") != 2:
		return invalidProof("not a compact JWS")
	}
	h, rest, _ := strings.Cut(proof, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	rawHeader, err := decodeSegment(h)
	if err != nil {
		return invalidProof("header: %v", err)
	}
	var sigBuf [maxStackSignature]byte
	signature, err := decodeSegmentInto(sig, sigBuf[:])
	if err != nil {
		return invalidProof("signature: %v", err)
	}
	alg, pk, e := d.parseHeader(rawHeader)
	if e != nil {
		return e
	}
	if err := alg.verify(proof[:len(h)+1+len(payload)], signature, pk.key); err != nil {
		return invalidProof("signature by its jwk: %v", err)
	}
	raw, err := decodeSegment(payload)
	if err != nil {
		return invalidProof("payload: %v", err)
	}
	pc, err := parseProofClaims(raw)
	if err != nil {
		return invalidProof("payload: %v", err)
	}
	if e := d.checkClaims(pc, r, now); e != nil {
		return e
	}
	if subtle.ConstantTimeCompare([]byte(pk.thumb), []byte(jkt)) != 1 {
		return newError(ErrInvalidToken, descKeyMismatch, errors.New(`the proof's jwk does not match "cnf" "jkt"`))
	}
	if d.cfg.Nonces && !d.nonceValid(pc.nonce, now) {
		e := newError(ErrUseDPoPNonce, descDPoPNonce, errors.New("DPoP proof without a current nonce"))
		e.DPoPNonce = d.nonce(now)
		return e
	}
	return d.remember(ctx, jkt, pc, now)
}

// parseHeader applies the JOSE header rules to a proof: typ dpop+jwt, an
// allowed asymmetric alg, and a public jwk under this package's key policy
// that fits the alg.
func (d *dpopChecker) parseHeader(raw []byte) (*algorithm, *proofKey, *Error) {
	var buf [16]jsonMember
	members, err := parseObjectInto(raw, buf[:0])
	if err != nil {
		return nil, nil, invalidProof("header: %v", err)
	}
	var alg *algorithm
	var jwk []byte
	var typOK bool
	for _, m := range members {
		switch string(m.name) {
		case "typ":
			typ, err := jsonString(m.value)
			typOK = err == nil && normalizeType(typ) == dpopProofType
		case "alg":
			name, err := jsonString(m.value)
			if err != nil {
				return nil, nil, invalidProof("alg: %v", err)
			}
			if alg = d.algs[name]; alg == nil {
				return nil, nil, invalidProof("alg %q is not accepted", truncate(name))
			}
		case "jwk":
			jwk = m.value
		case "crit", "b64", "zip", "enc", "cty":
			return nil, nil, invalidProof("header parameter %q is not accepted", string(m.name))
		}
	}
	switch {
	case !typOK:
		return nil, nil, invalidProof(`typ is not "dpop+jwt"`)
	case alg == nil:
		return nil, nil, invalidProof("no alg")
	case jwk == nil:
		return nil, nil, invalidProof("no jwk")
	}
	pk, err := d.proofKey(jwk)
	if err != nil {
		return nil, nil, invalidProof("jwk: %v", err)
	}
	if !alg.fits(pk.key) {
		return nil, nil, invalidProof("jwk does not fit alg %s", alg.name)
	}
	return alg, pk, nil
}

// proofKey parses a proof's jwk under the JWK policy (public keys only, no
// private members, sizes and curves), from the cache when these exact
// bytes were parsed before. The cache holds at most maxProofKeys keys; when
// full, it is emptied.
func (d *dpopChecker) proofKey(jwk []byte) (*proofKey, error) {
	d.keysMu.RLock()
	pk := d.keys[string(jwk)]
	d.keysMu.RUnlock()
	if pk != nil {
		return pk, nil
	}
	key, err := parseJWK(jwk, d.algs)
	if err != nil {
		return nil, err
	}
	pk = &proofKey{key: key, thumb: thumbprint(key)}
	d.keysMu.Lock()
	if len(d.keys) >= maxProofKeys {
		clear(d.keys)
	}
	d.keys[string(jwk)] = pk
	d.keysMu.Unlock()
	return pk, nil
}

// proofClaims are the members of a proof's payload this package checks.
type proofClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       time.Time
	hasIAT                    bool
}

func parseProofClaims(raw []byte) (*proofClaims, error) {
	var buf [16]jsonMember
	members, err := parseObjectInto(raw, buf[:0])
	if err != nil {
		return nil, err
	}
	pc := &proofClaims{}
	for _, m := range members {
		switch string(m.name) {
		case "jti":
			pc.jti, err = jsonString(m.value)
		case "htm":
			pc.htm, err = jsonString(m.value)
		case "htu":
			pc.htu, err = jsonString(m.value)
		case "ath":
			pc.ath, err = jsonString(m.value)
		case "nonce":
			pc.nonce, err = jsonString(m.value)
		case "iat":
			pc.hasIAT = true
			pc.iat, err = jsonNumericDate(m.value)
		}
		if err != nil {
			return nil, fmt.Errorf("claim %q: %w", m.name, err)
		}
	}
	return pc, nil
}

// checkClaims applies the payload rules of RFC 9449 §4.3 (items 9 to 12).
func (d *dpopChecker) checkClaims(pc *proofClaims, r *Request, now time.Time) *Error {
	switch {
	case pc.jti == "":
		return invalidProof("no jti")
	case len(pc.jti) > 256:
		return invalidProof("jti longer than 256 bytes")
	case pc.htm != r.Method:
		return invalidProof("htm %q is not the request method", truncate(pc.htm))
	case !sameTargetURI(pc.htu, r.URL):
		return invalidProof("htu %q is not the request URL", truncate(pc.htu))
	case !pc.hasIAT:
		return invalidProof("no iat")
	case pc.iat.After(now.Add(d.leeway)):
		return invalidProof("issued in the future")
	case pc.iat.Before(now.Add(-d.maxAge - d.leeway)):
		return invalidProof("older than MaxAge")
	case pc.ath == "":
		return invalidProof("no ath")
	}
	sum := d.hashes.sum256(r.Token)
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if subtle.ConstantTimeCompare(enc[:], []byte(pc.ath)) != 1 {
		return invalidProof("ath is not the hash of the access token")
	}
	return nil
}

// remember records the proof's jti until the proof could no longer pass
// the iat check, and refuses one seen before.
func (d *dpopChecker) remember(ctx context.Context, jkt string, pc *proofClaims, now time.Time) *Error {
	// The key: a hash of the key thumbprint and the jti, so that one
	// client's jti cannot collide with another's and no proof text is kept.
	sum := d.hashes.sum256(jkt, "\x00", pc.jti)
	var buf [9 + 43]byte
	key := string(base64.RawURLEncoding.AppendEncode(append(buf[:0], "dpop-jti:"...), sum[:]))
	expires := pc.iat.Add(d.maxAge + 2*d.leeway)
	if floor := now.Add(d.leeway); expires.Before(floor) {
		expires = floor
	}
	end := noEnd
	if !d.inMemory {
		ctx, end = startCall(ctx, d.observer, Call{Kind: callStore, Issuer: d.issuer, Operation: "set_if_absent", Purpose: "dpop_replay"})
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.storeTimeout)
		defer cancel()
	}
	fresh, err := d.replay.Remember(ctx, key, expires)
	end(err)
	switch {
	case err != nil:
		return newError(ErrUnavailable, "", fmt.Errorf("DPoP replay cache: %w", err))
	case !fresh:
		e := invalidProof("jti seen before: a replayed proof")
		e.replay = true
		return e
	}
	return nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, computed
// from the key itself (minimal big-endian RSA integers, fixed-size EC
// coordinates), base64url-encoded: the value of "cnf" "jkt".
func thumbprint(k *verificationKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	var doc string
	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		doc = `{"e":"` + b64(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		doc = `{"crv":"` + pub.Curve.Params().Name + `","kty":"EC","x":"` + b64(pub.X.FillBytes(make([]byte, size))) +
			`","y":"` + b64(pub.Y.FillBytes(make([]byte, size))) + `"}`
	case ed25519.PublicKey:
		doc = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(pub) + `"}`
	default:
		return "" // never equal to a jkt: ConstantTimeCompare of lengths fails
	}
	sum := sha256.Sum256([]byte(doc))
	return b64(sum[:])
}

// sameTargetURI compares a proof's htu with the request URL after RFC 3986
// §6 normalisation: scheme and host case-insensitive, a default port
// dropped, an empty path taken as "/", query and fragment ignored. The path
// compares exactly.
func sameTargetURI(htu, target string) bool {
	if htu == target { // the usual case: one parse, to see that it is a URL we take
		_, ok := normalizeTargetURI(htu)
		return ok
	}
	a, ok := normalizeTargetURI(htu)
	if !ok {
		return false
	}
	b, ok := normalizeTargetURI(target)
	return ok && a == b
}

func normalizeTargetURI(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "443" && scheme == "https" || port == "80" && scheme == "http" {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// nonce returns the nonce of the window now falls in: the window number and
// a MAC over it with the secret (RFC 9449 §9 leaves the format to servers).
func (d *dpopChecker) nonce(now time.Time) string {
	return d.nonceFor(now.Unix() / int64(nonceWindow/time.Second))
}

func (d *dpopChecker) nonceFor(window int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(window))
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte("accesstoken DPoP nonce\x00"))
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// nonceValid accepts the nonces of the current window and the one before
// (so a nonce lives 5 to 10 minutes), and of the next one, for replicas
// whose clocks differ slightly.
func (d *dpopChecker) nonceValid(nonce string, now time.Time) bool {
	raw, err := strictB64.DecodeString(nonce)
	if err != nil || len(raw) != 24 {
		return false
	}
	window := int64(binary.BigEndian.Uint64(raw[:8]))
	current := now.Unix() / int64(nonceWindow/time.Second)
	if window < current-1 || window > current+1 {
		return false
	}
	return hmac.Equal([]byte(d.nonceFor(window)), []byte(nonce))
}

// DPoPNonce returns the nonce DPoP proofs must carry now, for a DPoP-Nonce
// response header, or "" when DPoPConfig.Nonces is off. Adapters send it on
// every response (RFC 9449 §8.2).
func (v *Validator) DPoPNonce() string {
	if v.dpop == nil || !v.dpop.cfg.Nonces {
		return ""
	}
	return v.dpop.nonce(v.now())
}
