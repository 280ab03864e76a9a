// Package otelaccesstoken reports what accesstoken validators do to
// OpenTelemetry: metrics for validations, key refreshes, introspection, DPoP
// replays and revocations, and a client span for every call to the
// authorization server (discovery, JWKS, introspection) and to a Store.
//
//	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
//		Issuer:   "https://auth.example.com/",
//		Audience: []string{"https://api.example.com"},
//		Observer: otelaccesstoken.NewObserver(),
//	})
//
// # Metrics
//
// Meter "github.com/tokenguard/accesstoken/otelaccesstoken":
//
//   - accesstoken.validations (counter, {validation}): every validation, by
//     accesstoken.outcome ("accepted", "rejected", "unavailable"),
//     accesstoken.reason (absent when accepted; a word from a fixed list, see
//     accesstoken.Validation.Reason) and accesstoken.token.kind ("jwt",
//     "opaque"; absent when there was no token).
//   - accesstoken.validation.duration (histogram, s): how long validations
//     take, by accesstoken.outcome and accesstoken.token.kind.
//   - accesstoken.keys.refreshes (counter, {refresh}): JWKS fetches, by
//     accesstoken.outcome ("success", "failure") and accesstoken.issuer.
//   - accesstoken.keys.age (gauge, s): time since the keys in use were last
//     fetched successfully, by accesstoken.issuer.
//   - accesstoken.introspection.requests (counter, {request}): calls to the
//     introspection endpoint, by accesstoken.outcome ("success", "failure").
//   - accesstoken.introspection.cache.hits (counter, {hit}): validations
//     answered from an introspection cache, by accesstoken.cache ("local",
//     or "shared" for IntrospectionConfig.Store).
//   - accesstoken.dpop.replays (counter, {proof}): DPoP proofs refused as
//     replays.
//   - accesstoken.revocation.hits (counter, {token}): tokens refused because
//     the revocation list names them.
//
// NewSSFObserver's meter, the same one, adds:
//
//   - accesstoken.ssf.events (counter, {event}): security events a
//     Shared Signals receiver (package ssf) handled, by
//     accesstoken.ssf.event.type ("caep/session-revoked", ...; absent when
//     the SET was refused before its event was read), accesstoken.outcome
//     ("applied", "ignored", "refused", "unavailable"), accesstoken.reason
//     (a word from a fixed list, see ssf.Event.Reason),
//     accesstoken.ssf.delivery ("push", "poll") and
//     accesstoken.ssf.transmitter (the configured transmitter).
//
// accesstoken.issuer is a configured issuer (or one MultiIssuerConfig.Resolve
// accepted). No attribute ever holds a token, a secret, an error message or
// any other text a client chose.
//
// # Spans
//
// Tracer "github.com/tokenguard/accesstoken/otelaccesstoken": client spans
// "accesstoken discovery", "accesstoken jwks", "accesstoken introspection"
// and "accesstoken store <operation>", children of the span in the request's
// context when a request caused the call. HTTP calls carry url.full,
// server.address and server.port; store calls db.operation.name and
// accesstoken.store.purpose ("dpop_replay", "revocation", "introspection");
// all carry accesstoken.issuer. A failed call sets the span status to Error
// and error.type to "timeout", "canceled" or "failure", never the error's
// text. The span is in the context the call runs with, so an HTTP client
// instrumented with otelhttp (Config.HTTPClient) nests its spans under it.
package otelaccesstoken

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/ssf"
)

const scope = "github.com/tokenguard/accesstoken/otelaccesstoken"

// An Option configures NewObserver.
type Option func(*config)

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider sets where metrics go. Nil means the global
// MeterProvider (otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider sets where spans go. Nil means the global
// TracerProvider (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// NewObserver returns an accesstoken.Observer that records the metrics and
// spans described in the package documentation. Use one per process and
// share it among validators: the key age is kept per issuer.
func NewObserver(opts ...Option) accesstoken.Observer {
	c := newConfig(opts)
	v := instrumentationVersion()
	o := &observer{tracer: c.tp.Tracer(scope, trace.WithInstrumentationVersion(v)), keysFetched: map[string]time.Time{}, sets: map[validationKey]*validationSets{}}
	m := c.mp.Meter(scope, metric.WithInstrumentationVersion(v))
	// Instrument errors only come from invalid names or units, which are
	// fixed here; OpenTelemetry then hands back a working no-op instrument.
	o.validations, _ = m.Int64Counter("accesstoken.validations",
		metric.WithDescription("Access token validations, by outcome, reason and token kind."), metric.WithUnit("{validation}"))
	o.duration, _ = m.Float64Histogram("accesstoken.validation.duration",
		metric.WithDescription("Duration of access token validations."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
			0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	o.refreshes, _ = m.Int64Counter("accesstoken.keys.refreshes",
		metric.WithDescription("Fetches of the issuer's JWKS, by outcome."), metric.WithUnit("{refresh}"))
	o.introspections, _ = m.Int64Counter("accesstoken.introspection.requests",
		metric.WithDescription("Requests to the introspection endpoint, by outcome."), metric.WithUnit("{request}"))
	o.cacheHits, _ = m.Int64Counter("accesstoken.introspection.cache.hits",
		metric.WithDescription("Validations answered from an introspection cache, local or shared."), metric.WithUnit("{hit}"))
	o.replays, _ = m.Int64Counter("accesstoken.dpop.replays",
		metric.WithDescription("DPoP proofs refused because they were used before."), metric.WithUnit("{proof}"))
	o.revoked, _ = m.Int64Counter("accesstoken.revocation.hits",
		metric.WithDescription("Tokens refused because the revocation list names them."), metric.WithUnit("{token}"))
	m.Float64ObservableGauge("accesstoken.keys.age",
		metric.WithDescription("Time since the keys in use were last fetched successfully."), metric.WithUnit("s"),
		metric.WithFloat64Callback(o.observeKeyAge))
	return o
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	return c
}

// NewSSFObserver returns an ssf.Observer (for ssf.Config.Observer) that
// counts the security events a Shared Signals receiver handles, as
// accesstoken.ssf.events (see the package documentation). It takes the
// same options as NewObserver; WithTracerProvider is unused.
func NewSSFObserver(opts ...Option) ssf.Observer {
	c := newConfig(opts)
	m := c.mp.Meter(scope, metric.WithInstrumentationVersion(instrumentationVersion()))
	events, _ := m.Int64Counter("accesstoken.ssf.events",
		metric.WithDescription("Security events received by a Shared Signals receiver, by type, outcome and reason."), metric.WithUnit("{event}"))
	return ssfObserver{events: events}
}

type ssfObserver struct{ events metric.Int64Counter }

var (
	attrEventType   = attribute.Key("accesstoken.ssf.event.type")
	attrDelivery    = attribute.Key("accesstoken.ssf.delivery")
	attrTransmitter = attribute.Key("accesstoken.ssf.transmitter")
)

func (o ssfObserver) SecurityEvent(ctx context.Context, e ssf.Event) {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attrOutcome.String(e.Outcome), attrReason.String(e.Reason), attrDelivery.String(e.Delivery), attrTransmitter.String(e.Transmitter))
	if e.Type != "" {
		attrs = append(attrs, attrEventType.String(e.Type))
	}
	o.events.Add(ctx, 1, metric.WithAttributes(attrs...))
}

type observer struct {
	tracer         trace.Tracer
	validations    metric.Int64Counter
	duration       metric.Float64Histogram
	refreshes      metric.Int64Counter
	introspections metric.Int64Counter
	cacheHits      metric.Int64Counter
	replays        metric.Int64Counter
	revoked        metric.Int64Counter

	setsMu sync.RWMutex
	sets   map[validationKey]*validationSets // attribute sets, made once per key

	mu          sync.Mutex
	keysFetched map[string]time.Time // issuer -> last successful JWKS fetch
}

// validationKey identifies the attribute sets of a validation. Its fields
// come from fixed lists, so the map of sets stays small.
type validationKey struct{ outcome, reason, kind string }

type validationSets struct {
	count    []metric.AddOption
	duration []metric.RecordOption
}

var (
	attrOutcome = attribute.Key("accesstoken.outcome")
	attrReason  = attribute.Key("accesstoken.reason")
	attrKind    = attribute.Key("accesstoken.token.kind")
	attrIssuer  = attribute.Key("accesstoken.issuer")
	attrCache   = attribute.Key("accesstoken.cache")
	attrPurpose = attribute.Key("accesstoken.store.purpose")
	attrError   = attribute.Key("error.type")
	attrDBOp    = attribute.Key("db.operation.name")
	attrURL     = attribute.Key("url.full")
	attrServer  = attribute.Key("server.address")
	attrPort    = attribute.Key("server.port")

	cacheLocal  = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrCache.String("local")))}
	cacheShared = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrCache.String("shared")))}
	success     = metric.WithAttributeSet(attribute.NewSet(attrOutcome.String("success")))
	failure     = metric.WithAttributeSet(attribute.NewSet(attrOutcome.String("failure")))
)

func (o *observer) Validated(ctx context.Context, v accesstoken.Validation) {
	key := validationKey{v.Outcome, v.Reason, v.TokenKind}
	o.setsMu.RLock()
	sets, ok := o.sets[key]
	o.setsMu.RUnlock()
	if !ok {
		base := []attribute.KeyValue{attrOutcome.String(v.Outcome)}
		if v.TokenKind != "" {
			base = append(base, attrKind.String(v.TokenKind))
		}
		count := base
		if v.Reason != "" {
			count = append(append([]attribute.KeyValue(nil), base...), attrReason.String(v.Reason))
		}
		sets = &validationSets{
			count:    []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(count...))},
			duration: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(base...))},
		}
		o.setsMu.Lock()
		o.sets[key] = sets
		o.setsMu.Unlock()
	}
	o.validations.Add(ctx, 1, sets.count...)
	o.duration.Record(ctx, v.Duration.Seconds(), sets.duration...)
	switch v.Cache {
	case "introspection":
		o.cacheHits.Add(ctx, 1, cacheLocal...)
	case "shared":
		o.cacheHits.Add(ctx, 1, cacheShared...)
	}
	switch v.Reason {
	case "dpop_replay":
		o.replays.Add(ctx, 1)
	case "revoked":
		o.revoked.Add(ctx, 1)
	}
}

func (o *observer) Call(ctx context.Context, c accesstoken.Call) (context.Context, func(error)) {
	name := "accesstoken " + c.Kind
	attrs := []attribute.KeyValue{attrIssuer.String(c.Issuer)}
	if c.Kind == "store" {
		name += " " + c.Operation
		attrs = append(attrs, attrDBOp.String(c.Operation), attrPurpose.String(c.Purpose))
	} else if u, err := url.Parse(c.URL); err == nil {
		attrs = append(attrs, attrURL.String(u.Redacted()))
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
		}
		attrs = append(attrs, attrServer.String(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attrPort.Int(p))
		}
	}
	ctx, span := o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.SetAttributes(attrError.String(errorType(err)))
			span.SetStatus(codes.Error, "call failed")
		}
		span.End()
		switch c.Kind {
		case "jwks":
			o.refreshes.Add(context.Background(), 1, outcome(err), metric.WithAttributes(attrIssuer.String(c.Issuer)))
			if err == nil {
				o.mu.Lock()
				o.keysFetched[c.Issuer] = time.Now()
				o.mu.Unlock()
			}
		case "introspection":
			o.introspections.Add(context.Background(), 1, outcome(err))
		}
	}
}

func outcome(err error) metric.AddOption {
	if err != nil {
		return failure
	}
	return success
}

// errorType is error.type for a failed call: a fixed word, never the
// error's text.
func errorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "failure"
}

func (o *observer) observeKeyAge(_ context.Context, obs metric.Float64Observer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for issuer, at := range o.keysFetched {
		obs.Observe(now.Sub(at).Seconds(), metric.WithAttributes(attrIssuer.String(issuer)))
	}
	return nil
}
