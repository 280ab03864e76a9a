package otelaccesstoken_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
)

func ExampleNewObserver() {
	as := accesstokentest.NewServer()
	defer as.Close()

	// In a service: the MeterProvider your exporter (OTLP, Prometheus)
	// reads; here a manual reader, to print what was recorded.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	ctx := context.Background()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Observer: otelaccesstoken.NewObserver(otelaccesstoken.WithMeterProvider(mp)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	v.Validate(ctx, as.Token(map[string]any{"sub": "alice"}))
	v.Validate(ctx, "not-a-jwt")

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "accesstoken.validations" {
			continue
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			outcome, _ := dp.Attributes.Value("accesstoken.outcome")
			reason, _ := dp.Attributes.Value("accesstoken.reason")
			fmt.Printf("%s %q: %d\n", outcome.AsString(), reason.AsString(), dp.Value)
		}
	}
	// Unordered output:
	// accepted "": 1
	// rejected "opaque": 1
}
