package txntoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// SignerConfig configures a [Signer].
type SignerConfig struct {
	// Key signs the tokens: an *ecdsa.PrivateKey (P-256, P-384, P-521:
	// ES256, ES384, ES512), an *rsa.PrivateKey of 2048 bits or more (RS256)
	// or an ed25519.PrivateKey (EdDSA). Required.
	Key crypto.Signer

	// KeyID is the "kid" of the key. "" means its RFC 7638 thumbprint.
	KeyID string

	// TrustDomain is the "aud" of every token: the trust domain of the
	// services behind the gateway (draft §5.2). Required.
	TrustDomain string

	// Issuer is the "iss" of every token. "" means none (the draft makes it
	// optional).
	Issuer string

	// Workload is "req_wl", the name of the gateway. "" means "gateway".
	Workload string

	// Lifetime is how long a token lives. Zero means [DefaultLifetime]
	// (5 minutes); at most [MaxLifetime].
	Lifetime time.Duration

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// A Signer mints Transaction Tokens itself: the gateway as its trust
// domain's Transaction Token Service. Its public key is served as a JWK Set
// by ServeHTTP (mount it at /.well-known/jwks.json), where services'
// validators fetch it. It is safe for concurrent use.
type Signer struct {
	cfg    SignerConfig
	alg    string
	sign   func([]byte) ([]byte, error)
	jwks   []byte
	header string // the encoded JOSE header, the same for every token
}

// NewSigner checks cfg and returns a Signer.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	switch {
	case cfg.Key == nil:
		return nil, errors.New("txntoken: SignerConfig.Key is required")
	case cfg.TrustDomain == "":
		return nil, errors.New("txntoken: SignerConfig.TrustDomain is required")
	case cfg.Lifetime < 0 || cfg.Lifetime > MaxLifetime:
		return nil, fmt.Errorf("txntoken: SignerConfig.Lifetime must be between 0 and %v", MaxLifetime)
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Workload == "" {
		cfg.Workload = "gateway"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Signer{cfg: cfg}
	jwk := map[string]any{"use": "sig"}
	switch k := cfg.Key.(type) {
	case *ecdsa.PrivateKey:
		var h func() hash.Hash
		switch k.Curve {
		case elliptic.P256():
			s.alg, h = "ES256", sha256.New
		case elliptic.P384():
			s.alg, h = "ES384", sha512.New384
		case elliptic.P521():
			s.alg, h = "ES512", sha512.New
		default:
			return nil, errors.New("txntoken: an ECDSA key must be on P-256, P-384 or P-521")
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		pub, _ := k.PublicKey.ECDH() // validated curve point
		raw := pub.Bytes()           // 0x04 || X || Y
		jwk["kty"], jwk["crv"] = "EC", k.Curve.Params().Name
		jwk["x"], jwk["y"] = b64(raw[1:1+size]), b64(raw[1+size:])
		s.sign = func(in []byte) ([]byte, error) {
			d := h()
			d.Write(in)
			r, ss, err := ecdsa.Sign(rand.Reader, k, d.Sum(nil))
			if err != nil {
				return nil, err
			}
			sig := make([]byte, 2*size)
			r.FillBytes(sig[:size])
			ss.FillBytes(sig[size:])
			return sig, nil
		}
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("txntoken: an RSA key must have 2048 bits or more")
		}
		s.alg = "RS256"
		jwk["kty"], jwk["n"], jwk["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
		s.sign = func(in []byte) ([]byte, error) {
			d := sha256.Sum256(in)
			return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		}
	case ed25519.PrivateKey:
		s.alg = "EdDSA"
		jwk["kty"], jwk["crv"], jwk["x"] = "OKP", "Ed25519", b64(k.Public().(ed25519.PublicKey))
		s.sign = func(in []byte) ([]byte, error) { return ed25519.Sign(k, in), nil }
	default:
		return nil, fmt.Errorf("txntoken: SignerConfig.Key is a %T; use an ECDSA, RSA or Ed25519 private key", cfg.Key)
	}
	if cfg.KeyID == "" {
		cfg.KeyID = thumbprint(jwk)
		s.cfg.KeyID = cfg.KeyID
	}
	jwk["kid"], jwk["alg"] = cfg.KeyID, s.alg
	s.jwks, _ = json.Marshal(map[string]any{"keys": []any{jwk}})
	h, _ := json.Marshal(map[string]string{"alg": s.alg, "kid": cfg.KeyID, "typ": Type})
	s.header = b64(h)
	return s, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// thumbprint is the RFC 7638 thumbprint of a public JWK.
func thumbprint(jwk map[string]any) string {
	var members []string
	switch jwk["kty"] {
	case "EC":
		members = []string{"crv", "kty", "x", "y"}
	case "RSA":
		members = []string{"e", "kty", "n"}
	default:
		members = []string{"crv", "kty", "x"}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", m, jwk[m])
	}
	b.WriteByte('}')
	sum := sha256.Sum256([]byte(b.String()))
	return b64(sum[:])
}

// KeyID is the "kid" the tokens carry.
func (s *Signer) KeyID() string { return s.cfg.KeyID }

// ServeHTTP serves the JWK Set (GET and HEAD), cacheable for five minutes.
func (s *Signer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.jwks)
}

var errNoSubject = errors.New(`txntoken: the access token names no subject ("sub" or client_id) to carry`)

// Mint signs the Transaction Token of r: "sub" the access token's subject
// (its client_id for a token without one), "scope" r.Scope or the access
// token's scopes, a fresh "txn", "iat" now and "exp" after the lifetime,
// "aud" the trust domain, "req_wl" the workload, "rctx" r.Context and
// "tctx" the access token's client_id and acr with r.Details. The access
// token itself is never copied in.
func (s *Signer) Mint(_ context.Context, r Request) (string, error) {
	if r.Claims == nil {
		return "", errors.New("txntoken: Mint needs the access token's claims")
	}
	sub := r.Claims.Subject
	if sub == "" {
		sub = r.Claims.ClientID
	}
	if sub == "" {
		return "", errNoSubject
	}
	scope := r.Scope
	if scope == "" {
		scope = strings.Join(r.Claims.Scopes, " ")
	}
	if scope == "" {
		return "", errors.New("txntoken: no scope for the transaction: the access token carries none and Request.Scope is empty")
	}
	tctx := map[string]any{}
	for k, v := range r.Details {
		tctx[k] = v
	}
	if r.Claims.ClientID != "" {
		tctx["client_id"] = r.Claims.ClientID
	}
	if r.Claims.ACR != "" {
		tctx["acr"] = r.Claims.ACR
	}
	rctx := r.Context
	if rctx.Authn == "" && len(r.Claims.AMR) > 0 {
		rctx.Authn = r.Claims.AMR[0]
	}
	now := s.cfg.Now()
	claims := struct {
		Iss   string         `json:"iss,omitempty"`
		Iat   int64          `json:"iat"`
		Exp   int64          `json:"exp"`
		Aud   string         `json:"aud"`
		Txn   string         `json:"txn"`
		Sub   string         `json:"sub"`
		Scope string         `json:"scope"`
		ReqWL string         `json:"req_wl"`
		Rctx  RequestContext `json:"rctx"`
		Tctx  map[string]any `json:"tctx,omitempty"`
	}{s.cfg.Issuer, now.Unix(), now.Add(s.cfg.Lifetime).Unix(), s.cfg.TrustDomain, newTxn(), sub, scope, s.cfg.Workload, rctx, tctx}
	if len(tctx) == 0 {
		claims.Tctx = nil
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("txntoken: %w", err)
	}
	input := s.header + "." + b64(payload)
	sig, err := s.sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("txntoken: signing: %w", err)
	}
	return input + "." + b64(sig), nil
}

// newTxn is a random transaction identifier in UUID form (version 4).
func newTxn() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
