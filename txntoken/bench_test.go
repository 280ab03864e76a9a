package txntoken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/txntoken"
)

// BenchmarkTransactionToken puts the gateway's and the services' costs
// beside the validation of the caller's access token (ES256 everywhere):
//
//	go test -run '^$' -bench TransactionToken -benchmem ./txntoken
//
// "first" is a token the validator has not seen (verified-token cache
// off), "repeated" one it has.
func BenchmarkTransactionToken(b *testing.B) {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	validator := func(cfg accesstoken.Config, cached bool) *accesstoken.Validator {
		cfg.StrictStart = true
		if !cached {
			cfg.VerifiedCacheSize = -1
		}
		v, err := accesstoken.NewValidator(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		return v
	}
	atCfg := accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, Algorithms: []string{"ES256"}}
	access := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"}, accesstokentest.WithAlgorithm("ES256"))
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := txntoken.NewSigner(txntoken.SignerConfig{Key: key, TrustDomain: domain})
	jwks := httptest.NewServer(signer)
	defer jwks.Close()
	txCfg := txntoken.Config("", domain)
	txCfg.JWKSURL = jwks.URL
	claims, err := validator(atCfg, true).Validate(ctx, access)
	if err != nil {
		b.Fatal(err)
	}
	req := txntoken.Request{Claims: claims, Context: txntoken.RequestContext{IP: "203.0.113.7", Transport: "https", Method: "GET", Path: "/orders/42", TokenBinding: "bearer"}}
	tok, err := signer.Mint(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		v    *accesstoken.Validator
		tok  string
	}{
		{"access token, first", validator(atCfg, false), access},
		{"access token, repeated", validator(atCfg, true), access},
		{"txn token, first", validator(txCfg, false), tok},
		{"txn token, repeated", validator(txCfg, true), tok},
	} {
		run("validate/"+c.name, func() error { _, err := c.v.Validate(ctx, c.tok); return err })
	}
	run("mint (gateway)", func() error { _, err := signer.Mint(ctx, req); return err })
}
