package ginauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/ginauth"
)

func init() { gin.SetMode(gin.TestMode) }

func subject(c *gin.Context) {
	claims, ok := accesstoken.FromContext(c.Request.Context())
	if !ok {
		c.String(http.StatusOK, "(anonymous)")
		return
	}
	c.String(http.StatusOK, claims.Subject)
}

// TestConformance runs the table every adapter runs: the gin engine served
// over real HTTP (and TLS where the case says), each case's route built
// with the per-route checks.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			r := gin.New()
			var seen []error
			r.Use(func(gc *gin.Context) {
				gc.Next()
				for _, e := range gc.Errors {
					seen = append(seen, e.Err)
				}
			})
			opts := []ginauth.Option{ginauth.WithRealm(conformance.Realm), ginauth.WithResourceMetadata(c.ResourceMetadata)}
			if c.TokenHeader != "" {
				opts = append(opts, ginauth.WithTokenHeader(c.TokenHeader))
			}
			r.Use(ginauth.Middleware(c.Validator, opts...))
			route := []gin.HandlerFunc{ginauth.RequireScopes(conformance.Scope)}
			if c.Roles != nil {
				route = append(route, ginauth.RequireRoles(c.Roles...))
			}
			if c.Authentication != nil {
				route = append(route, ginauth.RequireAuthentication(*c.Authentication))
			}
			handlerRan := false
			route = append(route, func(gc *gin.Context) { handlerRan = true; subject(gc) })
			r.GET("/orders", route...)
			srv := httptest.NewUnstartedServer(r)
			client := http.DefaultClient
			if c.TLS != nil {
				srv.TLS = c.TLS.Server.Clone()
				srv.StartTLS()
				client = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS.Client.Clone()}}
			} else {
				srv.Start()
			}
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
			c.SetHeaders(req.Header)
			if c.Proof != nil {
				req.Header.Set("DPoP", c.Proof("GET", srv.URL+"/orders"))
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.Status || resp.Header.Get("WWW-Authenticate") != c.Challenge {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), c.Status, c.Challenge)
			}
			if (resp.Header.Get("DPoP-Nonce") != "") != c.Nonce {
				t.Fatalf("DPoP-Nonce %q, want one: %v", resp.Header.Get("DPoP-Nonce"), c.Nonce)
			}
			if c.Sentinel == nil {
				if string(body) != c.Subject {
					t.Fatalf("handler saw %q, want %q", body, c.Subject)
				}
				return
			}
			if handlerRan {
				t.Fatal("the handler ran for a rejected request")
			}
			if len(seen) != 1 || !errors.Is(seen[0], c.Sentinel) {
				t.Fatalf("c.Errors %v, want one matching %v", seen, c.Sentinel)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || string(body) != http.StatusText(c.Status)+"\n" {
				t.Fatalf("rejection body %q, Cache-Control %q", body, resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// The same engine through gin's test recorder, with a handler that reads the
// claims from the gin context itself (ContextWithFallback).
func TestOptionsAndFallback(t *testing.T) {
	valid := conformance.Cases(t)[0]
	r := gin.New()
	r.ContextWithFallback = true
	r.Use(ginauth.Middleware(valid.Validator, ginauth.WithCredentialsOptional(), ginauth.WithQueryToken(),
		ginauth.WithSkipper(func(c *gin.Context) bool { return c.FullPath() == "/healthz" })))
	r.GET("/healthz", subject)
	r.GET("/orders", func(c *gin.Context) {
		claims, ok := accesstoken.FromContext(c) // gin.Context is the request's context here
		if !ok {
			c.String(200, "(anonymous)")
			return
		}
		c.String(200, claims.Subject)
	})
	r.GET("/admin", ginauth.RequireRoles("admin"), subject)
	do := func(path, auth string) (int, string) {
		w := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(context.Background(), "GET", path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		r.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	for _, tt := range []struct {
		path, auth string
		code       int
		body       string
	}{
		{"/healthz", "Bearer garbage", 200, "(anonymous)"},
		{"/orders", "", 200, "(anonymous)"},
		{"/orders", "Bearer " + valid.Token, 200, valid.Subject},
		{"/orders?access_token=" + valid.Token, "", 200, valid.Subject},
		{"/orders", "Bearer bad.bad.bad", 401, "Unauthorized\n"},
		{"/admin", "", 401, "Unauthorized\n"}, // a per-route check needs a token even when credentials are optional
		{"/admin", "Bearer " + valid.Token, 403, "Forbidden\n"},
	} {
		if code, body := do(tt.path, tt.auth); code != tt.code || body != tt.body {
			t.Errorf("%s %q: %d %q, want %d %q", tt.path, tt.auth, code, body, tt.code, tt.body)
		}
	}
}
