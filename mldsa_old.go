//go:build !go1.27

package accesstoken

// Before Go 1.27 there is no crypto/mldsa: AKP keys (RFC 9964) are skipped
// as an unknown key type, and the ML-DSA algorithms are not supported.

const pqSupported = false

func pqAlgorithms() []*algorithm { return nil }

func parseAKP(alg string, _ []byte) (any, error) { return nil, errNoPQ }

func pqFits(*algorithm, *verificationKey) bool { return false }

func pqVerify(*algorithm, *verificationKey, []byte, []byte) bool { return false }

func pqStaticKey(any) (any, bool, error) { return nil, false, nil }
