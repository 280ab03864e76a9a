// Command gin shows ginauth on a gin API: a validator for the test kit's
// authorization server, the middleware on the engine, per-route scopes,
// roles and step-up, and real requests against it.
//
//	go run ./examples/gin
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/ginauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer() // your authorization server in production
	defer as.Close()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.Refresh(ctx); err != nil {
		return err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") }) // before the middleware: public
	api := r.Group("/", ginauth.Middleware(v, ginauth.WithRealm("orders-api")))
	api.GET("/orders", ginauth.RequireScopes("orders:read"), func(c *gin.Context) {
		claims, _ := accesstoken.FromContext(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"orders_of": claims.Subject})
	})
	api.DELETE("/orders/:id", ginauth.RequireRoles("orders-admin"),
		ginauth.RequireAuthentication(accesstoken.AuthenticationRequirement{ACRValues: []string{"mfa"}, MaxAge: 10 * time.Minute}),
		func(c *gin.Context) { c.Status(http.StatusNoContent) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	now := time.Now().Unix()
	requests := []struct {
		label, method, path string
		claims              map[string]any
	}{
		{"health, no token", "GET", "/healthz", nil},
		{"orders, no token", "GET", "/orders", nil},
		{"orders, reader", "GET", "/orders", map[string]any{"sub": "alice", "scope": "orders:read"}},
		{"orders, no scope", "GET", "/orders", map[string]any{"sub": "alice", "scope": "profile"}},
		{"delete, not admin", "DELETE", "/orders/7", map[string]any{"sub": "bob", "roles": []string{"clerk"}}},
		{"delete, admin, pwd", "DELETE", "/orders/7", map[string]any{"sub": "ann", "roles": []string{"orders-admin"}, "acr": "pwd", "auth_time": now}},
		{"delete, admin, mfa", "DELETE", "/orders/7", map[string]any{"sub": "ann", "roles": []string{"orders-admin"}, "acr": "mfa", "auth_time": now}},
	}
	for _, q := range requests {
		req, _ := http.NewRequestWithContext(ctx, q.method, srv.URL+q.path, nil)
		if q.claims != nil {
			req.Header.Set("Authorization", "Bearer "+as.Token(q.claims))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%-20s -> %s\n", q.label, resp.Status)
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			fmt.Fprintf(out, "%22s WWW-Authenticate: %s\n", "", ch)
		} else if len(body) > 0 {
			fmt.Fprintf(out, "%22s body: %s\n", "", body)
		}
	}
	return nil
}
