// Package mldsa checks ML-DSA (RFC 9964) against a second implementation
// nobody here wrote, lestrrat-go/jwx v4, in both directions: tokens jwx
// signs (with its own AKP JWKs) verify here, and tokens the test kit signs
// (with the JWK Set the kit serves) verify in jwx; each side refuses the
// other's tokens once altered. It is a module of its own, outside go.work,
// because it needs Go 1.27 (crypto/mldsa) while the core's go line stays
// lower; CI runs it with GOTOOLCHAIN=go1.27.3.
package mldsa_test

import (
	"context"
	"crypto/mldsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v4/jwa"
	"github.com/lestrrat-go/jwx/v4/jwk"
	"github.com/lestrrat-go/jwx/v4/jws"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

var cases = []struct {
	alg    jwa.SignatureAlgorithm
	params mldsa.Parameters
}{
	{jwa.MLDSA44(), mldsa.MLDSA44()},
	{jwa.MLDSA65(), mldsa.MLDSA65()},
	{jwa.MLDSA87(), mldsa.MLDSA87()},
}

var pq = []string{"ML-DSA-44", "ML-DSA-65", "ML-DSA-87"}

// alter flips one bit of a signature's middle.
func alter(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[i+1:])
	j := len(sig) / 2
	if sig[j] == 'A' {
		sig[j] = 'B'
	} else {
		sig[j] = 'A'
	}
	return tok[:i+1] + string(sig)
}

// jwx signs; this library verifies, with the AKP keys jwx wrote.
func TestJWXSignsAccesstokenVerifies(t *testing.T) {
	set := jwk.NewSet()
	type signed struct{ name, token string }
	var tokens []signed
	issuer := "https://pq-issuer.example"
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "aud": "api", "sub": "alice", "scope": "read",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	for _, c := range cases {
		sk, err := mldsa.GenerateKey(c.params)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := jwk.Import[jwk.Key](sk)
		if err != nil {
			t.Fatal(err)
		}
		kid := "jwx-" + c.alg.String()
		priv.Set(jwk.KeyIDKey, kid)
		priv.Set(jwk.AlgorithmKey, c.alg)
		pub, err := jwk.PublicKeyOf(priv)
		if err != nil {
			t.Fatal(err)
		}
		set.AddKey(pub)
		h := jws.NewHeaders()
		h.Set(jws.KeyIDKey, kid)
		h.Set(jws.TypeKey, "at+jwt")
		tok, err := jws.Sign(claims, jws.WithKey(c.alg, priv, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, signed{c.alg.String(), string(tok)})
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"priv"`) {
		t.Fatal("the public set holds a private key")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) }))
	defer srv.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: issuer, Audience: []string{"api"},
		JWKSURL: srv.URL, Algorithms: pq, StrictStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, s := range tokens {
		if c, err := v.Validate(context.Background(), s.token); err != nil || c.Subject != "alice" {
			t.Errorf("%s signed by jwx: %v", s.name, err)
		}
		if _, err := v.Validate(context.Background(), alter(s.token)); err == nil {
			t.Errorf("%s signed by jwx and altered: accepted", s.name)
		}
	}
}

// The test kit signs; jwx verifies, with the JWK Set the kit serves.
func TestAccesstokenSignsJWXVerifies(t *testing.T) {
	as := accesstokentest.NewServer(accesstokentest.WithMLDSAKeys())
	defer as.Close()
	resp, err := http.Get(as.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range pq {
		tok := as.Token(map[string]any{"sub": "bob"}, accesstokentest.WithAlgorithm(alg))
		payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set))
		if err != nil {
			t.Errorf("%s signed by the test kit, verified by jwx: %v", alg, err)
			continue
		}
		var c struct{ Sub string }
		if json.Unmarshal(payload, &c); c.Sub != "bob" {
			t.Errorf("%s: jwx read %s", alg, payload)
		}
		if _, err := jws.Verify([]byte(alter(tok)), jws.WithKeySet(set)); err == nil {
			t.Errorf("%s altered: jwx accepted it", alg)
		}
	}
}
