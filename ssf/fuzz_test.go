package ssf_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/ssf"
)

// FuzzSET pushes SETs whose claims are any bytes, signed with the
// transmitter's key (so they pass the signature and reach the event and
// subject parsing): the answer is 202 or 400, never a panic or a hang (5 s
// without an answer fails, with every goroutine's stack).
func FuzzSET(f *testing.F) {
	for _, seed := range []string{
		`{"events":{"%s":{}},"sub_id":{"format":"iss_sub","iss":"%s","sub":"a"}}`,
		`{"events":{"%s":{"event_timestamp":1e300}},"sub_id":{"format":"complex","session":{"format":"opaque","id":""}}}`,
		`{"events":{"%s":{"subject":{"format":"aliases","identifiers":[{"format":"email","email":"x"},null,1]}}}}`,
		`{"events":{"%s":{"state":7}},"sub_id":[],"toe":"now"}`,
		`{"events":{"%s":null},"sub_id":{"format":"jwt_id","jti":5}}`,
	} {
		f.Add(seed)
	}
	fx := newFixture(f, ssf.DeliveryPush, nil)
	events := []string{transmitter.CAEP + "session-revoked", transmitter.OAuth + "token-revoked", transmitter.SSF + "verification", transmitter.SSF + "stream-updated", transmitter.RISC + "account-disabled"}
	i := 0
	f.Fuzz(func(t *testing.T, claims string) {
		i++
		ev := events[i%len(events)]
		body := claims
		if strings.Count(claims, "%s") > 0 {
			body = fmt.Sprintf(claims, ev, fx.as.Issuer())
		}
		// Make the envelope valid so the fuzzed parts are what is judged.
		if strings.HasPrefix(body, "{") && len(body) > 1 {
			body = fmt.Sprintf(`{"iss":%q,"aud":%q,"iat":%d,"jti":"f-%d",`, fx.tx.Issuer(), audience, time.Now().Unix(), i) + body[1:]
		}
		set := fx.tx.Key().SignRaw(map[string]any{"alg": "ES256", "kid": fx.tx.Key().ID, "typ": "secevent+jwt"}, []byte(body))
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(set))
		req.Header.Set("Content-Type", "application/secevent+jwt")
		req.Header.Set("Authorization", pushAuthz)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { fx.recv.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 2)
			t.Fatalf("hung on %q\n%s", body, b.String())
		}
		if rec.Code != http.StatusAccepted && rec.Code != http.StatusBadRequest {
			t.Fatalf("answered %d %s", rec.Code, rec.Body)
		}
	})
}
