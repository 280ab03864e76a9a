package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// readJWKSFile reads a JWK Set from disk as Config.Keys: the public keys by
// "kid" ("" for one without), encryption keys left aside. It lets check
// judge a token offline, against keys saved earlier.
func readJWKSFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%s is not a JWK Set: %w", path, err)
	}
	keys := map[string]any{}
	dec := base64.RawURLEncoding.DecodeString
	for i, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		var pub any
		switch {
		case k.Kty == "RSA":
			n, err1 := dec(k.N)
			e, err2 := dec(k.E)
			if err1 != nil || err2 != nil || len(e) > 4 {
				return nil, fmt.Errorf("%s: key %d: bad RSA members", path, i)
			}
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case k.Kty == "EC":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[k.Crv]
			x, err1 := dec(k.X)
			y, err2 := dec(k.Y)
			if curve == nil || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s: key %d: bad EC members", path, i)
			}
			size := (curve.Params().BitSize + 7) / 8
			raw := append([]byte{4}, append(pad(x, size), pad(y, size)...)...)
			p, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
			if err != nil {
				return nil, fmt.Errorf("%s: key %d: %w", path, i, err)
			}
			pub = p
		case k.Kty == "OKP" && k.Crv == "Ed25519":
			x, err := dec(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%s: key %d: bad Ed25519 member", path, i)
			}
			pub = ed25519.PublicKey(x)
		default:
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("%s: kid %q appears twice", path, k.Kid)
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New(path + " holds no signing key")
	}
	return keys, nil
}

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}
