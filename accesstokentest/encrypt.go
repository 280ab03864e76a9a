package accesstokentest

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

type encryption struct {
	alg, enc, kid string
	key           any
	header        map[string]any
}

// WithEncryption encrypts the signed token to the resource server, as a
// nested JWT (RFC 7519 §5.2: "cty" "JWT"): key management alg
// ("RSA-OAEP-256", "ECDH-ES+A256KW", "dir", "A256KW", ...) to key (the
// resource server's *rsa.PublicKey or *ecdsa.PublicKey, or a []byte
// secret), content encryption enc ("A256GCM", "A128CBC-HS256", ...), with
// kid in the JWE header unless it is "". header adds or, with a nil value,
// removes protected header members (replicated "iss", a "cty" of
// "at+jwt", ...). Token panics when the key does not fit.
func WithEncryption(alg, enc string, key any, kid string, header map[string]any) TokenOption {
	return tokenOptionFunc(func(o *tokenOptions) {
		o.jwe = &encryption{alg: alg, enc: enc, kid: kid, key: key, header: header}
	})
}

func (e *encryption) seal(token string) string {
	opts := (&jose.EncrypterOptions{}).WithContentType("JWT")
	for k, v := range e.header {
		if v != nil {
			opts = opts.WithHeader(jose.HeaderKey(k), v)
		} else {
			delete(opts.ExtraHeaders, jose.HeaderKey(k))
		}
	}
	enc, err := jose.NewEncrypter(jose.ContentEncryption(e.enc), jose.Recipient{Algorithm: jose.KeyAlgorithm(e.alg), Key: e.key, KeyID: e.kid}, opts)
	if err != nil {
		panic(fmt.Sprintf("accesstokentest.WithEncryption: %v", err))
	}
	obj, err := enc.Encrypt([]byte(token))
	if err != nil {
		panic(fmt.Sprintf("accesstokentest.WithEncryption: %v", err))
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("accesstokentest.WithEncryption: %v", err))
	}
	return out
}
