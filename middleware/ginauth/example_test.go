package ginauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/ginauth"
)

func ExampleMiddleware() {
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	defer v.Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginauth.Middleware(v, ginauth.WithRealm("orders")))
	r.GET("/orders", ginauth.RequireScopes("orders:read"), func(c *gin.Context) {
		claims, _ := accesstoken.FromContext(c.Request.Context())
		c.String(http.StatusOK, "orders of %s", claims.Subject)
	})

	for _, scope := range []string{"orders:read", "profile"} {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"sub": "alice", "scope": scope}))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// 200  orders of alice
	// 403 Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read" Forbidden
}
