package replica

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"time"
)

// Key is an RS256 signing key as the platforms publish theirs: a 2048-bit
// RSA key with a self-signed certificate (for "x5c", "x5t", "x5t#S256").
type Key struct {
	ID   string // the "kid"
	priv *rsa.PrivateKey
	cert []byte // DER
}

var (
	keyPool   []*rsa.PrivateKey
	keyPoolMu sync.Mutex
)

// rsaKey hands out RSA keys, generating each once per test binary: 2048-bit
// generation takes long enough to matter across dozens of replicas.
func rsaKey(i int) *rsa.PrivateKey {
	keyPoolMu.Lock()
	defer keyPoolMu.Unlock()
	for len(keyPool) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyPool = append(keyPool, k)
	}
	return keyPool[i]
}

// NewKey returns the i-th shared RSA key under a kid of the platform's
// style; kid "" uses the certificate's SHA-1 thumbprint, as Entra ID does.
func NewKey(i int, kid string) *Key {
	k := &Key{priv: rsaKey(i)}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 7), Subject: pkix.Name{CommonName: "replica signing key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.priv.PublicKey, k.priv)
	if err != nil {
		panic(err)
	}
	k.cert = der
	k.ID = kid
	if kid == "" {
		k.ID = k.X5T()
	}
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// X5T is the certificate's SHA-1 thumbprint, base64url.
func (k *Key) X5T() string {
	sum := sha1.Sum(k.cert)
	return b64(sum[:])
}

// X5TS256 is the certificate's SHA-256 thumbprint, base64url.
func (k *Key) X5TS256() string {
	sum := sha256.Sum256(k.cert)
	return b64(sum[:])
}

// X5C is the certificate chain member: standard base64 DER.
func (k *Key) X5C() []string { return []string{base64.StdEncoding.EncodeToString(k.cert)} }

// Public is the public key, for validators given static keys.
func (k *Key) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// N and E are the public key's members.
func (k *Key) N() string { return b64(k.priv.N.Bytes()) }

// E is the public exponent, base64url ("AQAB").
func (k *Key) E() string { return b64(big.NewInt(int64(k.priv.E)).Bytes()) }

// Sign makes a compact JWS of header and claims with RS256. The header's
// members are written as given (alg included: a test may lie in it).
func (k *Key) Sign(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + b64(sig)
}

// Merge returns base with over applied: a nil value in over removes the
// member.
func Merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
