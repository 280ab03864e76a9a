package accesstokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// DPoPKey is a client's DPoP key (RFC 9449): it signs proofs, and tokens
// minted with [WithDPoPKey] are bound to it.
type DPoPKey struct {
	key *signingKey
	jwk map[string]any // the public JWK, as proofs carry it
}

// NewDPoPKey makes a key for proofs signed with alg: ES256 (the usual
// choice), ES384, ES512, RS256, PS256, EdDSA or Ed25519. It panics on any
// other name.
func NewDPoPKey(alg string) *DPoPKey {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA", "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic(fmt.Sprintf("accesstokentest: NewDPoPKey: unsupported algorithm %q", alg))
	}
	if err != nil {
		panic("accesstokentest: generating a DPoP key: " + err.Error())
	}
	return &DPoPKey{key: &signingKey{alg: alg, priv: priv}, jwk: publicJWK(priv.Public())}
}

// publicJWK is the JWK of a public key with only its required members.
func publicJWK(pub crypto.PublicKey) map[string]any {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size)))}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}
	}
	panic(fmt.Sprintf("accesstokentest: no JWK for %T", pub))
}

// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url-encoded:
// the "jkt" member of a bound token's "cnf" claim.
func (k *DPoPKey) Thumbprint() string {
	// RFC 7638 §3.2: the required members, in lexicographic order, no
	// white space. encoding/json sorts map keys, which is that order.
	required := map[string][]string{"RSA": {"e", "kty", "n"}, "EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}}
	members := map[string]any{}
	for _, name := range required[k.jwk["kty"].(string)] {
		members[name] = k.jwk[name]
	}
	sum := sha256.Sum256(mustJSON(members))
	return b64(sum[:])
}

// ProofOption changes one DPoP proof made by [DPoPKey.Proof], typically to
// write a test that a proof is refused.
type ProofOption interface{ applyProof(*proofOptions) }

type proofOptions struct {
	header map[string]any
	claims map[string]any
}

type proofOptionFunc func(*proofOptions)

func (f proofOptionFunc) applyProof(o *proofOptions) { f(o) }

// WithAccessToken sets the proof's "ath" to the hash of token (RFC 9449
// §4.2): a resource server requires it.
func WithAccessToken(token string) ProofOption {
	sum := sha256.Sum256([]byte(token))
	return WithProofClaim("ath", b64(sum[:]))
}

// WithNonce sets the proof's "nonce", as a DPoP-Nonce header asked for.
func WithNonce(nonce string) ProofOption { return WithProofClaim("nonce", nonce) }

// WithIssuedAt sets the proof's "iat" (by default now).
func WithIssuedAt(t time.Time) ProofOption { return WithProofClaim("iat", t.Unix()) }

// WithJTI sets the proof's "jti" (by default a random one), for example to
// replay one.
func WithJTI(jti string) ProofOption { return WithProofClaim("jti", jti) }

// WithProofClaim sets any member of the proof's payload; a nil value
// removes it.
func WithProofClaim(name string, value any) ProofOption {
	return proofOptionFunc(func(o *proofOptions) { o.claims[name] = value })
}

// WithProofHeader sets any JOSE header parameter of the proof ("typ", "alg",
// "jwk", ...); a nil value removes it. The signature is always made with the
// key's own algorithm.
func WithProofHeader(name string, value any) ProofOption {
	return proofOptionFunc(func(o *proofOptions) { o.header[name] = value })
}

// Proof makes a DPoP proof for a request with the given method and URL
// (RFC 9449 §4.2): typ "dpop+jwt", the key's alg and public jwk, and the
// claims jti, htm, htu and iat, changed by opts. Use [WithAccessToken] for
// requests to a resource server.
func (k *DPoPKey) Proof(method, url string, opts ...ProofOption) string {
	o := proofOptions{
		header: map[string]any{"typ": "dpop+jwt", "alg": k.key.alg, "jwk": k.jwk},
		claims: map[string]any{"jti": randomID(), "htm": method, "htu": url, "iat": time.Now().Unix()},
	}
	for _, opt := range opts {
		opt.applyProof(&o)
	}
	for _, m := range []map[string]any{o.header, o.claims} {
		for name, v := range m {
			if v == nil {
				delete(m, name)
			}
		}
	}
	input := b64(mustJSON(o.header)) + "." + b64(mustJSON(o.claims))
	return input + "." + b64(sign(k.key, []byte(input)))
}

// WithDPoPKey binds the token to k: its "cnf" claim carries the key's
// thumbprint as "jkt" (RFC 9449 §6.1).
func WithDPoPKey(k *DPoPKey) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) { o.cnf["jkt"] = k.Thumbprint() })
}

// WithCertificate binds the token to a client certificate: its "cnf" claim
// carries the certificate's SHA-256 thumbprint as "x5t#S256" (RFC 8705
// §3.1).
func WithCertificate(cert *x509.Certificate) TokenOption {
	sum := sha256.Sum256(cert.Raw)
	thumb := b64(sum[:])
	return tokenOptionFunc(func(o *tokenOptions) { o.cnf["x5t#S256"] = thumb })
}

// NewClientCertificate makes a self-signed TLS client certificate (ECDSA
// P-256, valid for a day) with its Leaf set, for mutual TLS in tests: a
// server with tls.RequireAnyClientCert accepts it. It panics if it cannot.
func NewClientCertificate(commonName string) tls.Certificate {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("accesstokentest: generating a certificate key: " + err.Error())
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		panic("accesstokentest: creating a certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("accesstokentest: parsing a certificate: " + err.Error())
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}
}
