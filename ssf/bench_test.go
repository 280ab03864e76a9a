package ssf_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/ssf"
)

// BenchmarkReceive measures one pushed SET through the handler (no
// network): verification, the jti record and the event's effect, against
// the validation of one access token by the same kind of validator.
//
//	go test -run '^$' -bench Receive -benchmem ./ssf
func BenchmarkReceive(b *testing.B) {
	f := newFixture(b, ssf.DeliveryPush, nil)
	for _, c := range []struct {
		name  string
		event string
		sub   func(i int) map[string]any
	}{
		{"ignored event", transmitter.CAEP + "assurance-level-change", func(i int) map[string]any { return f.issSub("u" + strconv.Itoa(i)) }},
		{"session revoked", transmitter.CAEP + "session-revoked", func(i int) map[string]any {
			return map[string]any{"format": "complex", "session": map[string]any{"format": "opaque", "id": "s" + strconv.Itoa(i)}}
		}},
		{"account disabled", transmitter.RISC + "account-disabled", func(i int) map[string]any { return f.issSub("u" + strconv.Itoa(i)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			sets := make([]string, b.N)
			for i := range sets {
				sets[i] = f.tx.SET(c.event, nil, c.sub(i))
			}
			b.ResetTimer()
			for i := range b.N {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(sets[i]))
				req.Header.Set("Content-Type", "application/secevent+jwt")
				req.Header.Set("Authorization", pushAuthz)
				rec := httptest.NewRecorder()
				f.recv.ServeHTTP(rec, req)
				if rec.Code != http.StatusAccepted {
					b.Fatal(rec.Code, rec.Body)
				}
			}
		})
	}
	b.Run("access token validation (reference)", func(b *testing.B) {
		v, err := accesstoken.NewValidator(b.Context(), accesstoken.Config{
			Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true, VerifiedCacheSize: -1,
			Algorithms: []string{"ES256"},
		})
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		tok := f.as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithAlgorithm("ES256"))
		b.ResetTimer()
		for range b.N {
			if _, err := v.Validate(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
