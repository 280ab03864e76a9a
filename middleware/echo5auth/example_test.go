package echo5auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v5"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/echo5auth"
)

func ExampleMiddleware() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()},
	})
	defer v.Close()

	e := echo.New()
	e.Use(echo5auth.Middleware(v, echo5auth.WithRealm("orders")))
	e.GET("/orders", func(c *echo.Context) error {
		claims, _ := accesstoken.FromContext(c.Request().Context())
		return c.String(http.StatusOK, "orders of "+claims.Subject)
	}, echo5auth.RequireScopes("orders:read"))

	for _, token := range []string{as.Token(map[string]any{"sub": "alice", "scope": "orders:read"}), as.Token(nil)} {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if challenge := rec.Header().Get("WWW-Authenticate"); challenge != "" {
			fmt.Println(rec.Code, challenge)
		} else {
			fmt.Println(rec.Code, rec.Body.String())
		}
	}
	// Output:
	// 200 orders of alice
	// 403 Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"
}
