package otelaccesstoken_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
)

// BenchmarkObserved is a verified-token cache hit (the hot path) with no
// Observer and with this package's over the OpenTelemetry SDK, in one run
// for the ratio:
//
//	go test -run '^$' -bench Observed -benchmem -count 3 ./otelaccesstoken
func BenchmarkObserved(b *testing.B) {
	as := accesstokentest.NewServer()
	defer as.Close()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	for _, c := range []struct {
		name string
		o    accesstoken.Observer
	}{
		{"none", nil},
		{"otel", otelaccesstoken.NewObserver(otelaccesstoken.WithMeterProvider(mp), otelaccesstoken.WithTracerProvider(tp))},
	} {
		b.Run(c.name, func(b *testing.B) {
			v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
				Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, Observer: c.o,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			ctx := context.Background()
			tok := as.Token(map[string]any{"sub": "alice"})
			if _, err := v.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
