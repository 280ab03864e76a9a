package connectauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connectauth"
)

// BenchmarkAdapter compares, in one run, a Connect unary handler that calls
// Validate itself ("validate-in-handler") with the same handler behind
// connectauth.Middleware: the ratio is the adapter's overhead. "cached"
// tokens are verified-cache hits; "first-seen" verifies RS256 every time.
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

	direct := http.NewServeMux()
	direct.Handle(getOrder, connect.NewUnaryHandler(getOrder, func(ctx context.Context, req *connect.Request[str]) (*connect.Response[str], error) {
		tok, _ := strings.CutPrefix(req.Header().Get("Authorization"), "Bearer ")
		claims, err := v.Validate(ctx, tok)
		if err != nil || accesstoken.RequireScopes(claims, "orders:read") != nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, nil)
		}
		return connect.NewResponse(wrapperspb.String(claims.Subject)), nil
	}))
	adapted := connectauth.Middleware(v, connectauth.WithScopes(service, "orders:read"))(newMux())
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"validate-in-handler", direct}, {"connectauth", adapted}} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", getOrder, strings.NewReader(`"x"`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				w.Body.Reset()
				bc.h.ServeHTTP(w, req)
			}
			if w.Code != http.StatusOK || w.Body.String() != `"alice"` {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
}
