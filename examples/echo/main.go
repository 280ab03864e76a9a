// Command echo shows echoauth on a real echo (v4) server on loopback,
// called with good and bad tokens.
//
//	go run ./examples/echo
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/echoauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		return err
	}
	defer v.Close()

	e := echo.New()
	e.HideBanner = true
	e.Use(echoauth.Middleware(v, echoauth.WithRealm("orders"),
		echoauth.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" })))
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/orders", func(c echo.Context) error {
		claims, _ := accesstoken.FromContext(c.Request().Context())
		return c.JSON(http.StatusOK, map[string]any{"owner": claims.Subject, "orders": []string{"A-1", "A-2"}})
	}, echoauth.RequireScopes("orders:read"))
	srv := httptest.NewServer(e)
	defer srv.Close()

	cases := []struct{ name, path, token string }{
		{"valid token", "/orders", as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})},
		{"expired token", "/orders", as.Token(map[string]any{"scope": "orders:read"}, accesstokentest.WithExpiry(-time.Minute))},
		{"missing scope", "/orders", as.Token(map[string]any{"scope": "profile"})},
		{"missing token", "/orders", ""},
		{"skipped route", "/healthz", ""},
	}
	for _, c := range cases {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+c.path, nil)
		if err != nil {
			return err
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "GET %-8s %-14s -> %d %s\n", c.path, c.name, resp.StatusCode, strings.TrimSpace(string(body)))
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			fmt.Fprintf(out, "%-29s WWW-Authenticate: %s\n", "", ch)
		}
	}
	return nil
}
