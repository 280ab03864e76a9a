package accesstoken

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
)

// TestSignedIntrospectionKit: RFC 9701 answers from the test kit, active and
// revoked.
func TestSignedIntrospectionKit(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := NewValidator(context.Background(), Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Introspection: &IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret,
			SignedResponses: true, CacheSize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok := as.OpaqueToken(map[string]any{"sub": "carol", "scope": "orders:read"})
	c, err := v.Validate(context.Background(), tok)
	checkResult(t, c, err, accepted)
	if c.Subject != "carol" || !c.Introspected {
		t.Errorf("claims %+v", c)
	}
	as.Revoke(tok)
	_, err = v.Validate(context.Background(), tok)
	checkResult(t, nil, err, result{ErrInvalidToken, descInactive})
}

// TestSignedIntrospectionRules: every rule of a signed answer, with answers
// signed by the issuer's own keys unless the row says otherwise.
func TestSignedIntrospectionRules(t *testing.T) {
	ri := newRawIssuer(t)
	var answer atomic.Pointer[string]
	var media atomic.Pointer[string]
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/token-introspection+jwt" {
			http.Error(w, "wrong Accept", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", *media.Load())
		w.Write([]byte(*answer.Load()))
	}))
	defer endpoint.Close()
	v := ri.validator(t, func(c *Config) {
		c.Introspection = &IntrospectionConfig{Endpoint: endpoint.URL, ClientID: "rs", ClientSecret: "s", SignedResponses: true, CacheSize: -1}
	})
	now := time.Now().Unix()
	inner := map[string]any{"active": true, "sub": "carol", "aud": "api", "exp": now + 600}
	good := map[string]any{"iss": ri.srv.URL, "aud": "rs", "iat": now, "token_introspection": inner}
	with := func(k string, val any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if val == nil {
			delete(m, k)
		} else {
			m[k] = val
		}
		return m
	}
	hdr := []byte(`{"alg":"ES256","kid":"p256","typ":"token-introspection+jwt"}`)
	jwtMedia := "application/token-introspection+jwt"
	forged := func() string {
		o := newRawIssuerKeys(t)
		in := b64([]byte(`{"alg":"RS256","kid":"rsa","typ":"token-introspection+jwt"}`)) + "." + b64(mustJSON(good))
		return in + "." + b64(o.sign([]byte(in)))
	}
	tests := []struct {
		name, media, body string
		ok                bool
	}{
		{"good", jwtMedia, signRaw("ES256", hdr, mustJSON(good)), true},
		{"aud is one of Config.Audience", jwtMedia, signRaw("ES256", hdr, mustJSON(with("aud", "api"))), true},
		{"plain JSON", "application/json", string(mustJSON(inner)), false},
		{"JWT as application/json", "application/json", signRaw("ES256", hdr, mustJSON(good)), false},
		{"typ JWT", jwtMedia, signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256","typ":"JWT"}`), mustJSON(good)), false},
		{"typ at+jwt", jwtMedia, signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256","typ":"at+jwt"}`), mustJSON(good)), false},
		{"no typ", jwtMedia, signRaw("ES256", []byte(`{"alg":"ES256","kid":"p256"}`), mustJSON(good)), false},
		{"another issuer", jwtMedia, signRaw("ES256", hdr, mustJSON(with("iss", "https://evil.example"))), false},
		{"aud of someone else", jwtMedia, signRaw("ES256", hdr, mustJSON(with("aud", "other-rs"))), false},
		{"no iat", jwtMedia, signRaw("ES256", hdr, mustJSON(with("iat", nil))), false},
		{"iat in the future", jwtMedia, signRaw("ES256", hdr, mustJSON(with("iat", now+3600))), false},
		{"no token_introspection", jwtMedia, signRaw("ES256", hdr, mustJSON(with("token_introspection", nil))), false},
		{"token_introspection not an object", jwtMedia, signRaw("ES256", hdr, mustJSON(with("token_introspection", "active"))), false},
		{"signed by a key the issuer never published", jwtMedia, forged(), false},
		{"alg none", jwtMedia, b64([]byte(`{"alg":"none","typ":"token-introspection+jwt"}`)) + "." + b64(mustJSON(good)) + ".", false},
		{"garbage", jwtMedia, "not a jwt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media.Store(&tt.media)
			answer.Store(&tt.body)
			c, err := v.Validate(context.Background(), "opaque-token-value")
			if tt.ok {
				checkResult(t, c, err, accepted)
				return
			}
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrUnavailable only", err)
			}
		})
	}
}
