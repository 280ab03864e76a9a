package connect2auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/connect2auth"
)

// BenchmarkAdapter compares, in one run, a Connect v2 handler that calls
// Validate itself ("validate-in-handler") with the same handler behind
// connect2auth.Middleware: the ratio is the adapter's overhead. "cached"
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

	server := connect.NewServer()
	server.Register(connect.Method{Spec: unarySpec, Handler: func(ctx context.Context, _ connect.Spec, s connect.ServerStream) error {
		var req wrapperspb.StringValue
		if err := s.Receive(&req); err != nil {
			return err
		}
		info, _ := connect.CallInfoForServerContext(ctx)
		tok, _ := strings.CutPrefix(info.RequestHeader().Get("Authorization"), "Bearer ")
		claims, err := v.Validate(ctx, tok)
		if err != nil || accesstoken.RequireScopes(claims, "orders:read") != nil {
			return connect.NewError(connect.CodeUnauthenticated, "")
		}
		return s.Send(wrapperspb.String(claims.Subject))
	}})
	direct := http.NewServeMux()
	connecthttp.Mount(direct, server)
	adapted := connect2auth.Middleware(v, connect2auth.WithScopes(service, "orders:read"))(newMux())
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"validate-in-handler", direct}, {"connect2auth", adapted}} {
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
