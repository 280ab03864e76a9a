// Command chi is the README's chi recipe: httpauth's net/http middleware
// as it is, on a chi router, with per-route and per-group checks.
//
//	go run ./examples/chi
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// router is the recipe.
func router(v accesstoken.TokenValidator) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	r.Group(func(r chi.Router) {
		r.Use(httpauth.Middleware(v, httpauth.WithRealm("orders-api")))
		r.With(httpauth.RequireScopes("orders:read")).Get("/orders", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := accesstoken.FromContext(r.Context())
			fmt.Fprintf(w, "orders of %s", claims.Subject)
		})
		r.Route("/admin", func(r chi.Router) {
			r.Use(httpauth.RequireRoles("orders-admin"))
			r.Get("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "admin") })
		})
	})
	return r
}

func run(out io.Writer) error {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		return err
	}
	defer v.Close()
	srv := httptest.NewServer(router(v))
	defer srv.Close()
	for _, q := range []struct {
		label, path string
		claims      map[string]any
	}{
		{"health", "/healthz", nil},
		{"orders, no token", "/orders", nil},
		{"orders, reader", "/orders", map[string]any{"sub": "alice", "scope": "orders:read"}},
		{"admin, reader", "/admin/", map[string]any{"sub": "alice", "scope": "orders:read"}},
		{"admin, admin", "/admin/", map[string]any{"sub": "ann", "roles": []string{"orders-admin"}}},
	} {
		req, _ := http.NewRequest("GET", srv.URL+q.path, nil)
		if q.claims != nil {
			req.Header.Set("Authorization", "Bearer "+as.Token(q.claims))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%-17s -> %d %s %s\n", q.label, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	return nil
}
