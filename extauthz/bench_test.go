package extauthz_test

import (
	"context"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/extauthz"
)

// BenchmarkCheck compares, in one run, Validate on a token with Check on an
// Envoy-shaped request carrying it (the decision, identity headers and
// dynamic metadata built; no gRPC transport), for a verified-cache hit and
// for a first-seen RS256 token.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cached", 0}, {"first-seen", -1}} {
		as := accesstokentest.NewServer()
		v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()},
			StrictStart: true, VerifiedCacheSize: bc.size})
		token := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
		authz := extauthz.NewServer(v, extauthz.WithRequiredScopes("orders:read"))
		req := envoy("GET", "https", "api.example.com", "/orders", map[string]string{"authorization": "Bearer " + token})
		ctx := context.Background()
		b.Run(bc.name+"/validate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Validate(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/check", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if resp, _ := authz.Check(ctx, req); resp.GetOkResponse() == nil {
					b.Fatal(resp)
				}
			}
		})
		v.Close()
		as.Close()
	}
}
