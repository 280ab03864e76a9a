package ginauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/ginauth"
)

// BenchmarkAdapter compares, in one run, a gin route that calls Validate
// itself ("validate-in-handler": the least any integration does) with the
// same route behind ginauth.Middleware and RequireScopes: the ratio of the
// two is the adapter's overhead. "cached" uses the verified-token cache (a
// token seen before: the adapter's share is as large as it can be),
// "first-seen" turns it off (every request verifies an RS256 signature).
func BenchmarkAdapter(b *testing.B) {
	b.Run("cached", func(b *testing.B) { benchAdapter(b, 0) })
	b.Run("first-seen", func(b *testing.B) { benchAdapter(b, -1) })
}

func benchAdapter(b *testing.B, cacheSize int) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()},
		StrictStart: true, VerifiedCacheSize: cacheSize})
	defer v.Close()
	token := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	gin.SetMode(gin.ReleaseMode)

	direct := gin.New()
	direct.GET("/orders", func(c *gin.Context) {
		tok, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		claims, err := v.Validate(c.Request.Context(), tok)
		if err != nil || accesstoken.RequireScopes(claims, "orders:read") != nil {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Request = c.Request.WithContext(accesstoken.NewContext(c.Request.Context(), claims))
		c.Status(http.StatusNoContent)
	})
	adapted := gin.New()
	adapted.Use(ginauth.Middleware(v))
	adapted.GET("/orders", ginauth.RequireScopes("orders:read"), func(c *gin.Context) { c.Status(http.StatusNoContent) })

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"validate-in-handler", direct}, {"ginauth", adapted}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/orders", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}
