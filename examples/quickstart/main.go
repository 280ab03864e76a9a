// Command quickstart shows accesstoken end to end on loopback: it starts the
// test kit's authorization server and an API protected by httpauth, sends
// real requests with good and bad tokens, and prints what the API answered.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx := context.Background()

	// 1. An authorization server. In production this is Keycloak, Auth0,
	//    Okta, Entra ID...; here the test kit plays it on 127.0.0.1.
	as := accesstokentest.NewServer()
	defer as.Close()

	// 2. A validator for that issuer. The JWKS is discovered from the
	//    issuer's metadata and refreshed in the background. Opaque tokens go
	//    to the issuer's RFC 7662 introspection endpoint, also discovered.
	//    DPoP-bound tokens (RFC 9449) are accepted with a proof signed by
	//    their key, each proof once.
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID:     accesstokentest.IntrospectionClientID,
			ClientSecret: accesstokentest.IntrospectionClientSecret,
		},
		DPoP: &accesstoken.DPoPConfig{Algorithms: []string{"ES256"}},
	})
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.Refresh(ctx); err != nil { // warm up: fetch keys before serving
		return err
	}

	// 3. A protected API: every route needs a token; /orders also needs the
	//    "orders:read" scope.
	mux := http.NewServeMux()
	mux.Handle("GET /orders", httpauth.RequireScopes("orders:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := accesstoken.FromContext(r.Context())
			fmt.Fprintf(w, "orders of %s", claims.Subject)
		})))
	api := httptest.NewServer(httpauth.Middleware(v, httpauth.WithRealm("orders-api"))(mux))
	defer api.Close()

	// 4. Real requests, good and bad.
	good := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	opaque := as.OpaqueToken(map[string]any{"sub": "carol", "scope": "orders:read"})
	revoked := as.OpaqueToken(map[string]any{"sub": "dave", "scope": "orders:read"})
	as.Revoke(revoked)
	// A client's DPoP key, a token bound to it, and one proof for one request.
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora", "scope": "orders:read"}, accesstokentest.WithDPoPKey(key))
	proof := key.Proof(http.MethodGet, api.URL+"/orders", accesstokentest.WithAccessToken(bound))
	cases := []struct{ name, token, proof string }{
		{"valid token", good, ""},
		{"expired token", as.Token(map[string]any{"sub": "alice", "scope": "orders:read"}, accesstokentest.WithExpiry(-time.Minute)), ""},
		{"wrong audience", as.Token(map[string]any{"aud": "https://another-api.example", "scope": "orders:read"}), ""},
		{"tampered token", tamper(good), ""},
		{"missing token", "", ""},
		{"missing scope", as.Token(map[string]any{"sub": "bob", "scope": "profile"}), ""},
		{"opaque token", opaque, ""},
		{"revoked opaque", revoked, ""},
		{"DPoP token", bound, proof},
		{"DPoP replayed", bound, proof}, // the same proof again: refused
	}
	for _, c := range cases {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/orders", nil)
		if err != nil {
			return err
		}
		switch {
		case c.proof != "":
			req.Header.Set("Authorization", "DPoP "+c.token)
			req.Header.Set("DPoP", c.proof)
		case c.token != "":
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%-15s -> %d %s\n", c.name, resp.StatusCode, http.StatusText(resp.StatusCode))
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			fmt.Fprintf(out, "%-15s    WWW-Authenticate: %s\n", "", ch)
		} else {
			fmt.Fprintf(out, "%-15s    body: %s\n", "", strings.TrimSpace(string(body)))
		}
	}
	return nil
}

// tamper changes the token's payload and keeps its signature: an attacker
// granting themselves a new subject.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload := `{"iss":"x","sub":"mallory","aud":"y","exp":4102444800}`
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}
