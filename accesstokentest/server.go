// Package accesstokentest provides an in-process OAuth 2.0 authorization
// server for tests and demos, in the way net/http/httptest provides an HTTP
// server: it listens on loopback, publishes RFC 8414 and OpenID Connect
// metadata and a JWKS, mints signed JWT access tokens (RFC 9068) for any
// claims a test needs, and issues opaque tokens that its RFC 7662
// introspection endpoint answers for.
//
//	as := accesstokentest.NewServer()
//	defer as.Close()
//	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{
//		Issuer:   as.Issuer(),
//		Audience: []string{as.Audience()},
//	})
//	token := as.Token(map[string]any{"scope": "read"})
//
// Tokens are signed with the standard library's crypto packages, not with
// the code accesstoken verifies with, so the two check each other.
package accesstokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// defaultAudience is the "aud" of minted tokens unless WithAudience says
// otherwise; Server.Audience reports the one in force.
const defaultAudience = "https://api.example.test"

// Server is an authorization server on loopback. Its methods are safe for
// concurrent use.
type Server struct {
	srv      *httptest.Server
	audience string

	clients map[string]client // introspection clients by ID

	mu         sync.Mutex
	keys       map[string]*signingKey // by algorithm name
	published  []map[string]any       // the JWKS "keys" array
	retired    [][]map[string]any     // earlier generations still published, newest first
	retire     int                    // how many earlier generations stay published
	mldsa      bool                   // WithMLDSAKeys
	generation int
	tokens     map[[32]byte]map[string]any // claims of every token issued, by SHA-256
	revoked    map[[32]byte]bool
}

type signingKey struct {
	kid    string
	alg    string
	priv   crypto.Signer
	secret []byte // HS256, HS384, HS512
}

// Option configures [NewServer].
type Option interface{ apply(*serverOptions) }

type serverOptions struct {
	audience string
	wrap     func(http.Handler) http.Handler
	clients  map[string]client
	retired  int
	mldsa    bool
}

type optionFunc func(*serverOptions)

func (f optionFunc) apply(o *serverOptions) { f(o) }

// WithAudience sets the "aud" that minted tokens carry by default.
func WithAudience(aud string) Option {
	return optionFunc(func(o *serverOptions) { o.audience = aud })
}

// WithHandler wraps the server's HTTP handler, so that a test can count,
// delay or fail requests to any endpoint:
//
//	accesstokentest.WithHandler(func(next http.Handler) http.Handler {
//		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			if down.Load() {
//				http.Error(w, "down", http.StatusServiceUnavailable)
//				return
//			}
//			next.ServeHTTP(w, r)
//		})
//	})
func WithHandler(wrap func(next http.Handler) http.Handler) Option {
	return optionFunc(func(o *serverOptions) { o.wrap = wrap })
}

// WithRetiredKeys keeps the keys of the n previous generations in the JWKS
// after [Server.RotateKeys], as an authorization server does that publishes
// a new key before it signs with it and withdraws old keys only later.
// Tokens signed before a rotation keep verifying until their keys drop out.
// Zero (the default) withdraws old keys at once.
func WithRetiredKeys(n int) Option {
	return optionFunc(func(o *serverOptions) { o.retired = max(n, 0) })
}

// Paths the server serves under its issuer URL.
const (
	jwksPath          = "/jwks"
	introspectionPath = "/introspect"
)

// NewServer starts a server on 127.0.0.1 with fresh keys for RS256, RS384,
// RS512, PS256, PS384, PS512 (one 2048-bit RSA key), ES256, ES384, ES512
// and EdDSA. Call Close when done. It panics if it cannot listen or make
// keys, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	o := serverOptions{audience: defaultAudience, clients: map[string]client{}}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if len(o.clients) == 0 {
		o.clients[IntrospectionClientID] = client{secret: IntrospectionClientSecret}
	}
	s := &Server{audience: o.audience, clients: o.clients, retire: o.retired, mldsa: o.mldsa,
		tokens: map[[32]byte]map[string]any{}, revoked: map[[32]byte]bool{}}
	s.RotateKeys()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.serveMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.serveMetadata)
	mux.HandleFunc("GET "+jwksPath, s.serveJWKS)
	mux.HandleFunc("POST "+introspectionPath, s.serveIntrospection)
	var h http.Handler = mux
	if o.wrap != nil {
		h = o.wrap(mux)
	}
	// Assigned before it serves: a request that arrives at once (a
	// validator left over on a reused port) must find s.srv.
	s.srv = httptest.NewUnstartedServer(h)
	s.srv.Start()
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Issuer returns the issuer identifier: the server's base URL.
func (s *Server) Issuer() string { return s.srv.URL }

// JWKSURL returns the URL of the server's JWK Set.
func (s *Server) JWKSURL() string { return s.srv.URL + jwksPath }

// IntrospectionEndpoint returns the URL of the RFC 7662 endpoint.
func (s *Server) IntrospectionEndpoint() string { return s.srv.URL + introspectionPath }

// Audience returns the default "aud" of minted tokens.
func (s *Server) Audience() string { return s.audience }

// RotateKeys replaces every signing key with a new one under a new key ID.
// The old keys leave the JWKS at once, so tokens minted before no longer
// verify once a validator has refreshed, unless [WithRetiredKeys] keeps
// them published for a few more rotations.
func (s *Server) RotateKeys() {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("accesstokentest: generating RSA key: " + err.Error())
	}
	ecKeys := map[string]*ecdsa.PrivateKey{}
	for alg, curve := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
		if ecKeys[alg], err = ecdsa.GenerateKey(curve, rand.Reader); err != nil {
			panic("accesstokentest: generating EC key: " + err.Error())
		}
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("accesstokentest: generating Ed25519 key: " + err.Error())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	g := s.generation
	if s.retire > 0 && s.published != nil {
		s.retired = append([][]map[string]any{s.published}, s.retired...)
		s.retired = s.retired[:min(len(s.retired), s.retire)]
	}
	s.keys = map[string]*signingKey{}
	s.published = nil
	rsaKID := fmt.Sprintf("rsa-%d", g)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		s.keys[alg] = &signingKey{kid: rsaKID, alg: alg, priv: rsaKey}
	}
	// The RSA key carries no "alg", so it serves both RS* and PS*.
	s.published = append(s.published, map[string]any{
		"kty": "RSA", "use": "sig", "kid": rsaKID,
		"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes()),
	})
	for _, alg := range []string{"ES256", "ES384", "ES512"} {
		k := ecKeys[alg]
		kid := fmt.Sprintf("%s-%d", alg, g)
		s.keys[alg] = &signingKey{kid: kid, alg: alg, priv: k}
		size := (k.Curve.Params().BitSize + 7) / 8
		s.published = append(s.published, map[string]any{
			"kty": "EC", "use": "sig", "alg": alg, "kid": kid, "crv": k.Curve.Params().Name,
			"x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size))),
		})
	}
	if s.mldsa {
		keys, published := mldsaKeys(g)
		maps.Copy(s.keys, keys)
		s.published = append(s.published, published...)
	}
	edKID := fmt.Sprintf("EdDSA-%d", g)
	s.keys["EdDSA"] = &signingKey{kid: edKID, alg: "EdDSA", priv: edKey}
	s.keys["Ed25519"] = &signingKey{kid: edKID, alg: "Ed25519", priv: edKey} // RFC 9864's name for the same signature
	s.published = append(s.published, map[string]any{
		"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": edKID, "crv": "Ed25519",
		"x": b64(edKey.Public().(ed25519.PublicKey)),
	})
}

// TokenOption configures one token minted by [Server.Token].
type TokenOption interface{ apply(*tokenOptions) }

type tokenOptions struct {
	alg    string
	header map[string]any
	expiry time.Duration
	key    *signingKey    // WithSigningKey; nil = the server's key for alg
	cnf    map[string]any // "cnf" members from WithDPoPKey, WithCertificate
	jwe    *encryption    // WithEncryption
}

type tokenOptionFunc func(*tokenOptions)

func (f tokenOptionFunc) apply(o *tokenOptions) { f(o) }

// WithAlgorithm picks the signing algorithm: RS256 (the default), RS384,
// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA or Ed25519 (RFC
// 9864's name for EdDSA with Ed25519); ML-DSA-44, ML-DSA-65 or ML-DSA-87
// with [WithMLDSAKeys].
func WithAlgorithm(alg string) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.alg = alg })
}

// WithMLDSAKeys adds post-quantum keys to the server, for ML-DSA-44,
// ML-DSA-65 and ML-DSA-87 (RFC 9964): one AKP key each in the JWKS, bound
// to its algorithm, used by [WithAlgorithm] with those names. It needs a
// build with Go 1.27 or newer (crypto/mldsa); with an older Go, NewServer
// panics.
func WithMLDSAKeys() Option {
	return optionFunc(func(o *serverOptions) { o.mldsa = true })
}

// WithSigningKey signs the token with the caller's own key instead of the
// server's, for validators configured with static keys (Config.Keys): key
// is a []byte HMAC secret for HS256, HS384 or HS512, or an *rsa.PrivateKey,
// *ecdsa.PrivateKey, ed25519.PrivateKey or (Go 1.27) *mldsa.PrivateKey for
// the asymmetric algorithms. The
// header carries no "kid" unless [WithKeyID] sets one. Token panics when the
// key does not fit alg.
func WithSigningKey(alg string, key any) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) {
		o.alg = alg
		o.key = &signingKey{alg: alg}
		switch k := key.(type) {
		case []byte:
			o.key.secret = k
		case crypto.Signer:
			o.key.priv = k
		}
	})
}

// WithKeyID sets the header's "kid" instead of the signing key's own.
func WithKeyID(kid string) TokenOption { return WithHeader("kid", kid) }

// WithType sets the header's "typ" (by default "at+jwt"). An empty typ
// leaves it out.
func WithType(typ string) TokenOption {
	if typ == "" {
		return WithHeader("typ", nil)
	}
	return WithHeader("typ", typ)
}

// WithHeader sets a JOSE header parameter; a nil value removes it. "alg" is
// always the signing algorithm's.
func WithHeader(name string, value any) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.header[name] = value })
}

// WithExpiry sets "exp" to now plus d (by default one hour); a negative d
// mints an expired token.
func WithExpiry(d time.Duration) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.expiry = d })
}

// Token mints a signed JWT access token. Its claims are iss (the server),
// aud (the server's audience), sub "test-subject", client_id "test-client",
// iat, exp and a random jti, overridden or extended by claims; a claim whose
// value is nil is left out. It panics on an unknown algorithm.
func (s *Server) Token(claims map[string]any, opts ...TokenOption) string {
	o := tokenOptions{alg: "RS256", header: map[string]any{}, expiry: time.Hour, cnf: map[string]any{}}
	for _, opt := range opts {
		opt.apply(&o)
	}
	key := o.key
	header := map[string]any{"alg": o.alg, "typ": "at+jwt"}
	if key == nil {
		s.mu.Lock()
		key = s.keys[o.alg]
		s.mu.Unlock()
		if key == nil {
			panic(fmt.Sprintf("accesstokentest: unknown algorithm %q", o.alg))
		}
		header["kid"] = key.kid
	} else if !key.fits() {
		panic(fmt.Sprintf("accesstokentest: the key given to WithSigningKey does not fit %q", o.alg))
	}
	for k, v := range o.header {
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	header["alg"] = key.alg

	payload := s.claims(claims, o.expiry)
	if len(o.cnf) > 0 {
		payload["cnf"] = o.cnf
	}
	signingInput := b64(mustJSON(header)) + "." + b64(mustJSON(payload))
	token := signingInput + "." + b64(sign(key, []byte(signingInput)))
	s.record(token, payload)
	if o.jwe != nil {
		return o.jwe.seal(token)
	}
	return token
}

// OpaqueToken issues an opaque access token that only introspection can
// check. Its claims are those of [Server.Token] with the same overrides; it
// expires in one hour unless claims set "exp".
func (s *Server) OpaqueToken(claims map[string]any) string {
	token := randomID() + randomID()
	s.record(token, s.claims(claims, time.Hour))
	return token
}

// Revoke makes the introspection endpoint answer that token is not active.
// It works for opaque tokens and JWTs alike.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[sha256.Sum256([]byte(token))] = true
}

// claims builds a token's claims: defaults, then overrides; nil removes.
func (s *Server) claims(overrides map[string]any, expiry time.Duration) map[string]any {
	now := time.Now()
	payload := map[string]any{
		"iss":       s.Issuer(),
		"aud":       s.audience,
		"sub":       "test-subject",
		"client_id": "test-client",
		"iat":       now.Unix(),
		"exp":       now.Add(expiry).Unix(),
		"jti":       randomID(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(payload, k)
		} else {
			payload[k] = v
		}
	}
	return payload
}

func (s *Server) record(token string, claims map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[sha256.Sum256([]byte(token))] = claims
}

// hashFor is the hash a JWS algorithm name implies; 0 for EdDSA and Ed25519.
func hashFor(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "256") && alg != "Ed25519":
		return crypto.SHA256
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return 0
}

// fits reports whether the key can sign its algorithm.
func (k *signingKey) fits() bool {
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		return strings.HasPrefix(k.alg, "RS") || strings.HasPrefix(k.alg, "PS")
	case *ecdsa.PrivateKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[k.alg]
		return want != nil && priv.Curve == want
	case ed25519.PrivateKey:
		return k.alg == "EdDSA" || k.alg == "Ed25519"
	case nil:
	default:
		return mldsaFits(k)
	}
	return k.secret != nil && strings.HasPrefix(k.alg, "HS") && hashFor(k.alg) != 0
}

// sign makes a JWS signature (RFC 7518 §3) with the standard library.
func sign(k *signingKey, input []byte) []byte {
	h := hashFor(k.alg)
	if k.secret != nil {
		m := hmac.New(h.New, k.secret)
		m.Write(input)
		return m.Sum(nil)
	}
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write(input)
		digest = d.Sum(nil)
	}
	var sig []byte
	var err error
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		if k.alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, priv, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, h, digest)
		}
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, priv, digest); err == nil {
			size := (priv.Curve.Params().BitSize + 7) / 8
			sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, input)
	default:
		if k.secret == nil {
			sig, err = mldsaSign(k, input)
		}
	}
	if err != nil {
		panic("accesstokentest: signing: " + err.Error())
	}
	return sig
}

func (s *Server) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                        s.Issuer(),
		"jwks_uri":                                      s.JWKSURL(),
		"response_types_supported":                      []string{"code"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"RS256"},
		"grant_types_supported":                         []string{"client_credentials"},
		"introspection_endpoint":                        s.IntrospectionEndpoint(),
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	keys := slices.Clone(s.published)
	for _, old := range s.retired {
		keys = append(keys, old...)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"keys": keys})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(v))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("accesstokentest: encoding JSON: " + err.Error())
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return b64(b)
}
