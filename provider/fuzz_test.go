package provider

import (
	"encoding/json"
	"testing"
)

// FuzzTokenInfoAnswer feeds arbitrary bodies to the translation of
// tokeninfo's 200 answers: no panic, and what it returns is always an
// RFC 7662 answer that says active, with a positive numeric "exp" and "aud"
// a list holding only what the answer's "aud" and "azp" said.
func FuzzTokenInfoAnswer(f *testing.F) {
	f.Add([]byte(`{"azp":"a","aud":"a","sub":"1","scope":"openid","exp":"1735689600","expires_in":"3599"}`))
	f.Add([]byte(`{"azp":"a","aud":"b","exp":"1"}`))
	f.Add([]byte(`{"exp":1735689600}`))
	f.Add([]byte(`{"exp":"-5"}`))
	f.Add([]byte(`{"exp":"1","active":false,"aud":["x"]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := tokenInfoAnswer(body)
		if err != nil {
			return
		}
		var in, got map[string]any
		if json.Unmarshal(body, &in) != nil {
			t.Fatalf("translated a body encoding/json rejects: %q", body)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if got["active"] != true {
			t.Fatalf("active %v", got["active"])
		}
		if exp, ok := got["exp"].(float64); !ok || exp <= 0 {
			t.Fatalf("exp %v", got["exp"])
		}
		auds, ok := got["aud"].([]any)
		if !ok {
			t.Fatalf("aud %v", got["aud"])
		}
		for _, a := range auds {
			if a != in["aud"] && a != in["azp"] {
				t.Fatalf("aud %v names %v, which the answer did not", auds, a)
			}
		}
	})
}
