package httpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func ExampleMiddleware() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
	})
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /orders", httpauth.RequireScopes("orders:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := accesstoken.FromContext(r.Context())
			fmt.Fprintf(w, "orders of %s", claims.Subject)
		})))
	handler := httpauth.Middleware(v, httpauth.WithRealm("orders"))(mux)

	for _, token := range []string{
		as.Token(map[string]any{"sub": "alice", "scope": "orders:read"}),
		as.Token(map[string]any{"sub": "bob", "scope": "profile"}),
		"",
	} {
		req := httptest.NewRequest("GET", "/orders", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if challenge := rec.Header().Get("WWW-Authenticate"); challenge != "" {
			fmt.Println(rec.Code, challenge)
		} else {
			fmt.Println(rec.Code, rec.Body.String())
		}
	}
	// Output:
	// 200 orders of alice
	// 403 Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"
	// 401 Bearer realm="orders"
}
