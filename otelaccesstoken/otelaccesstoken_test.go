package otelaccesstoken_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/transmitter"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
	"github.com/tokenguard/accesstoken/ssf"
)

// telemetry is a real SDK pipeline: a manual reader and a span recorder.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newTelemetry() *telemetry {
	t := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	t.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(t.spans))
	return t
}

func (tel *telemetry) observer() accesstoken.Observer {
	return otelaccesstoken.NewObserver(
		otelaccesstoken.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))),
		otelaccesstoken.WithTracerProvider(tel.tp))
}

func (tel *telemetry) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum is the value of a counter's data point with exactly these attributes.
func sum(t *testing.T, m metricdata.Metrics, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	data, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int64 counter", m.Name, m.Data)
	}
	for _, dp := range data.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

func kv(k, v string) attribute.KeyValue { return attribute.String(k, v) }

// authServer is the test kit with a switch that breaks its introspection
// endpoint.
type authServer struct {
	*accesstokentest.Server
	down atomic.Bool
}

func newAuthServer(t *testing.T) *authServer {
	as := &authServer{}
	as.Server = accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/introspect") && as.down.Load() {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	t.Cleanup(as.Close)
	return as
}

func validator(t *testing.T, as *authServer, o accesstoken.Observer, store accesstoken.Store) *accesstoken.Validator {
	t.Helper()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Observer: o,
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret,
			Store: store,
		},
		Revocations: accesstoken.NewRevocations(store),
		DPoP:        &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestMetricsAndSpans drives two replicas through every kind of event and
// reads every metric and span back from the SDK.
func TestMetricsAndSpans(t *testing.T) {
	tel := newTelemetry()
	obs := tel.observer()
	as := newAuthServer(t)
	store := accesstoken.NewMemoryStore()
	a := validator(t, as, obs, store)
	b := validator(t, as, obs, store)
	// Requests run under a span of the API, as with otelhttp.
	ctx, root := tel.tp.Tracer("api").Start(context.Background(), "GET /orders")

	var tokens []string
	mint := func(tok string) string { tokens = append(tokens, tok); return tok }
	good := mint(as.Token(map[string]any{"sub": "ann", "jti": "j-1"}))
	for range 2 {
		if _, err := a.Validate(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	a.Validate(ctx, mint(as.Token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})))
	// A client-chosen issuer must not reach an attribute.
	const evil = "https://evil.example/<client text>"
	a.Validate(ctx, mint(as.Token(map[string]any{"iss": evil})))
	a.ValidateRequest(ctx, &accesstoken.Request{Scheme: "Bearer"})

	opaque := mint(as.OpaqueToken(nil))
	a.Validate(ctx, opaque)
	a.Validate(ctx, opaque) // local cache
	time.Sleep(50 * time.Millisecond)
	if _, err := b.Validate(ctx, opaque); err != nil { // from the shared store
		t.Fatal(err)
	}

	key := accesstokentest.NewDPoPKey("ES256")
	bound := mint(as.Token(map[string]any{"sub": "ann"}, accesstokentest.WithDPoPKey(key)))
	r := &accesstoken.Request{Scheme: "DPoP", Token: bound, Method: "GET", URL: "https://api.example/orders",
		DPoPProof: key.Proof("GET", "https://api.example/orders", accesstokentest.WithAccessToken(bound))}
	if _, err := a.ValidateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ValidateRequest(ctx, r); !errors.Is(err, accesstoken.ErrInvalidDPoPProof) {
		t.Fatalf("replay: %v", err)
	}

	if err := accesstoken.NewRevocations(store).RevokeToken(ctx, "j-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := b.Validate(ctx, good); errors.Is(err, accesstoken.ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revocation not seen")
		}
	}
	as.down.Store(true)
	if _, err := a.Validate(ctx, mint(as.OpaqueToken(nil))); !errors.Is(err, accesstoken.ErrUnavailable) {
		t.Fatalf("endpoint down: %v", err)
	}
	root.End()

	m := tel.collect(t)
	validations := m["accesstoken.validations"]
	for _, c := range []struct {
		attrs []attribute.KeyValue
		min   int64
	}{
		{[]attribute.KeyValue{kv("accesstoken.outcome", "accepted"), kv("accesstoken.token.kind", "jwt")}, 3},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "accepted"), kv("accesstoken.token.kind", "opaque")}, 3},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "rejected"), kv("accesstoken.token.kind", "jwt"), kv("accesstoken.reason", "expired")}, 1},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "rejected"), kv("accesstoken.token.kind", "jwt"), kv("accesstoken.reason", "issuer")}, 1},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "rejected"), kv("accesstoken.reason", "no_token")}, 1},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "rejected"), kv("accesstoken.token.kind", "jwt"), kv("accesstoken.reason", "dpop_replay")}, 1},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "rejected"), kv("accesstoken.token.kind", "jwt"), kv("accesstoken.reason", "revoked")}, 1},
		{[]attribute.KeyValue{kv("accesstoken.outcome", "unavailable"), kv("accesstoken.token.kind", "opaque"), kv("accesstoken.reason", "unavailable")}, 1},
	} {
		if got := sum(t, validations, c.attrs...); got < c.min {
			t.Errorf("accesstoken.validations%v = %d, want at least %d", c.attrs, got, c.min)
		}
	}
	total := int64(0)
	for _, dp := range validations.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	hist := m["accesstoken.validation.duration"].Data.(metricdata.Histogram[float64])
	count := uint64(0)
	for _, dp := range hist.DataPoints {
		count += dp.Count
		if dp.Sum <= 0 {
			t.Errorf("duration histogram %v: sum %v", dp.Attributes, dp.Sum)
		}
	}
	if int64(count) != total || m["accesstoken.validation.duration"].Unit != "s" {
		t.Errorf("duration histogram counts %d validations, the counter %d (unit %q)", count, total, m["accesstoken.validation.duration"].Unit)
	}
	issuer := kv("accesstoken.issuer", as.Issuer())
	if got := sum(t, m["accesstoken.keys.refreshes"], kv("accesstoken.outcome", "success"), issuer); got < 2 {
		t.Errorf("key refreshes: %d, want at least 2 (one per replica)", got)
	}
	gauge := m["accesstoken.keys.age"].Data.(metricdata.Gauge[float64])
	if len(gauge.DataPoints) != 1 || gauge.DataPoints[0].Value < 0 || gauge.DataPoints[0].Value > 60 {
		t.Errorf("key age: %+v", gauge.DataPoints)
	}
	if v, _ := gauge.DataPoints[0].Attributes.Value("accesstoken.issuer"); v.AsString() != as.Issuer() {
		t.Errorf("key age issuer: %v", v)
	}
	if got := sum(t, m["accesstoken.introspection.requests"], kv("accesstoken.outcome", "success")); got != 1 {
		t.Errorf("introspection requests that succeeded: %d, want 1 (one token, two replicas)", got)
	}
	if got := sum(t, m["accesstoken.introspection.requests"], kv("accesstoken.outcome", "failure")); got != 1 {
		t.Errorf("introspection requests that failed: %d, want 1", got)
	}
	if got := sum(t, m["accesstoken.introspection.cache.hits"], kv("accesstoken.cache", "local")); got != 1 {
		t.Errorf("local introspection cache hits: %d, want 1", got)
	}
	if got := sum(t, m["accesstoken.introspection.cache.hits"], kv("accesstoken.cache", "shared")); got != 1 {
		t.Errorf("shared introspection cache hits: %d, want 1", got)
	}
	if got := sum(t, m["accesstoken.dpop.replays"]); got != 1 {
		t.Errorf("DPoP replays: %d, want 1", got)
	}
	if got := sum(t, m["accesstoken.revocation.hits"]); got != 1 {
		t.Errorf("revocation hits: %d, want 1", got)
	}

	// Spans: every kind, client spans, request-caused ones under the
	// request's span, failures marked without their text.
	spans := tel.spans.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	for _, name := range []string{"accesstoken discovery", "accesstoken jwks", "accesstoken introspection",
		"accesstoken store get", "accesstoken store set", "accesstoken store set_if_absent"} {
		if len(byName[name]) == 0 {
			t.Errorf("no %q span; have %v", name, keys(byName))
		}
		for _, s := range byName[name] {
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("%s: kind %v", name, s.SpanKind())
			}
		}
	}
	failedIntro := 0
	for _, s := range byName["accesstoken introspection"] {
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("introspection span's parent %v is not the request's span", s.Parent().SpanID())
		}
		attrs := attribute.NewSet(s.Attributes()...)
		if u, _ := attrs.Value("url.full"); u.AsString() != as.IntrospectionEndpoint() {
			t.Errorf("introspection url.full %q", u.AsString())
		}
		if s.Status().Code == codes.Error {
			failedIntro++
			if et, _ := attrs.Value("error.type"); et.AsString() != "failure" || s.Status().Description != "call failed" {
				t.Errorf("failed introspection span: %v %q", et, s.Status().Description)
			}
		}
	}
	if failedIntro != 1 {
		t.Errorf("%d failed introspection spans, want 1", failedIntro)
	}
	replayParent := false
	for _, s := range byName["accesstoken store set_if_absent"] {
		attrs := attribute.NewSet(s.Attributes()...)
		if p, _ := attrs.Value("accesstoken.store.purpose"); p.AsString() == "dpop_replay" && s.Parent().SpanID() == root.SpanContext().SpanID() {
			replayParent = true
		}
	}
	if !replayParent {
		t.Error("no DPoP replay store span under the request's span")
	}

	// Nothing a client sent, and no token, in any attribute, span name,
	// event or status.
	var seen strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&seen, "%s %v %v %v\n", s.Name(), s.Attributes(), s.Events(), s.Status())
	}
	for _, mm := range m {
		fmt.Fprintf(&seen, "%s %+v\n", mm.Name, mm.Data)
	}
	for _, secret := range append(tokens, evil, accesstokentest.IntrospectionClientSecret, "evil.example") {
		if strings.Contains(seen.String(), secret) {
			t.Fatalf("telemetry holds client or secret text %.20q…", secret)
		}
	}
	if !strings.Contains(seen.String(), "accesstoken.validations") {
		t.Fatal("the leak check read nothing")
	}
}

func keys(m map[string][]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A JWKS that cannot be fetched counts as a failed refresh, and the key age
// keeps growing from the last success.
func TestKeyRefreshFailure(t *testing.T) {
	tel := newTelemetry()
	var broken atomic.Bool
	as := accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") && broken.Load() {
				http.Error(w, "no", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, Observer: tel.observer(),
		MinRefreshInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	time.Sleep(20 * time.Millisecond)
	broken.Store(true)
	if err := v.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded against a broken JWKS")
	}
	m := tel.collect(t)
	issuer := kv("accesstoken.issuer", as.Issuer())
	if got := sum(t, m["accesstoken.keys.refreshes"], kv("accesstoken.outcome", "failure"), issuer); got != 1 {
		t.Errorf("failed refreshes: %d, want 1", got)
	}
	if got := sum(t, m["accesstoken.keys.refreshes"], kv("accesstoken.outcome", "success"), issuer); got != 1 {
		t.Errorf("successful refreshes: %d, want 1", got)
	}
	age := m["accesstoken.keys.age"].Data.(metricdata.Gauge[float64]).DataPoints[0].Value
	if age < 0.02 {
		t.Errorf("key age %v s after a failed refresh, want the time since the last success (≥ 0.02 s)", age)
	}
}

// TestInstrumentationScope: the meter and tracer are named after the module
// and carry its version from the build information; in the module's own
// tests that is "(devel)". The release's consumer test checks that a
// program requiring the module at a tag reports that tag.
func TestInstrumentationScope(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	tel := newTelemetry()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, Observer: tel.observer()})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Validate(context.Background(), as.Token(nil)); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	const name = "github.com/tokenguard/accesstoken/otelaccesstoken"
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != name || rm.ScopeMetrics[0].Scope.Version != "(devel)" {
		t.Errorf("meter scopes: %+v", rm.ScopeMetrics)
	}
	spans := tel.spans.Ended()
	if len(spans) == 0 {
		t.Fatal("no span")
	}
	if s := spans[0].InstrumentationScope(); s.Name != name || s.Version != "(devel)" {
		t.Errorf("tracer scope: %+v", s)
	}
}

// TestSSFEvents: a Shared Signals receiver (ssf) reports each SET it
// handled, and the SDK counts them by type, outcome and reason.
func TestSSFEvents(t *testing.T) {
	tel := newTelemetry()
	tx := transmitter.New(t, "https://api.example.com/ssf")
	recv, err := ssf.NewReceiver(context.Background(), ssf.Config{
		Transmitter: tx.Issuer(), Issuer: "https://idp.example.com", Audience: []string{"https://api.example.com/ssf"},
		Revocations: accesstoken.NewRevocations(accesstoken.NewMemoryStore()), HTTPClient: tx.Client(),
		Observer: otelaccesstoken.NewSSFObserver(otelaccesstoken.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader)))),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	push := httptest.NewServer(recv)
	defer push.Close()
	user := map[string]any{"format": "iss_sub", "iss": "https://idp.example.com", "sub": "ann"}
	for _, set := range []string{
		tx.SET(transmitter.RISC+"account-disabled", nil, user),
		tx.SET(transmitter.RISC+"account-disabled", nil, user),
		tx.SET(transmitter.CAEP+"session-revoked", nil, user, transmitter.Claim("aud", "https://elsewhere.example.com")),
	} {
		tx.Push(push.URL, "", set)
	}
	m := tel.collect(t)["accesstoken.ssf.events"]
	common := []attribute.KeyValue{kv("accesstoken.ssf.delivery", "push"), kv("accesstoken.ssf.transmitter", tx.Issuer())}
	applied := append([]attribute.KeyValue{kv("accesstoken.outcome", "applied"), kv("accesstoken.reason", "subject"), kv("accesstoken.ssf.event.type", "risc/account-disabled")}, common...)
	refused := append([]attribute.KeyValue{kv("accesstoken.outcome", "refused"), kv("accesstoken.reason", "audience")}, common...)
	if got := sum(t, m, applied...); got != 2 {
		t.Fatalf("applied account-disabled: %d, want 2", got)
	}
	if got := sum(t, m, refused...); got != 1 {
		t.Fatalf("refused for its audience: %d, want 1", got)
	}
}
