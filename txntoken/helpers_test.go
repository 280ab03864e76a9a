package txntoken_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/tokenguard/accesstoken/internal/transmitter"
)

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func jwksHandler(k *transmitter.Key) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{k.JWK()}})
	})
}
