//go:build !go1.27

package accesstokentest

import "errors"

func mldsaKeys(int) (map[string]*signingKey, []map[string]any) {
	panic("accesstokentest: WithMLDSAKeys needs a build with Go 1.27 or newer (crypto/mldsa)")
}

func mldsaFits(*signingKey) bool { return false }

func mldsaSign(*signingKey, []byte) ([]byte, error) {
	return nil, errors.New("ML-DSA needs a build with Go 1.27 or newer")
}
