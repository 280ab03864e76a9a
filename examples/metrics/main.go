// Command metrics shows accesstoken's telemetry as Prometheus scrapes it: an
// API protected by httpauth whose validator reports through
// otelaccesstoken to the OpenTelemetry Prometheus exporter, served at
// /metrics. It sends requests with good and bad tokens and prints the
// accesstoken counters from /metrics; with -listen it keeps serving, for a
// Prometheus (and the Grafana dashboard next to this file) to scrape.
//
//	go run ./examples/metrics
//	go run ./examples/metrics -listen 127.0.0.1:9464
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
)

func main() {
	listen := flag.String("listen", "", "keep serving the API and /metrics on this address (e.g. 127.0.0.1:9464)")
	flag.Parse()
	if _, err := run(os.Stdout, *listen); err != nil {
		log.Fatal(err)
	}
}

// run returns every sample line scraped from /metrics.
func run(out io.Writer, listen string) ([]string, error) {
	ctx := context.Background()
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()

	// 1. OpenTelemetry metrics, exported in the Prometheus format. A
	//    registry of its own keeps the example's output to its metrics.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(ctx)

	// 2. The validator reports to it through otelaccesstoken. It also
	//    introspects opaque tokens, accepts DPoP and has a revocation list,
	//    so that every metric has something to count.
	store := accesstoken.NewMemoryStore()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Introspection: &accesstoken.IntrospectionConfig{
			ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret,
		},
		DPoP:        &accesstoken.DPoPConfig{Replay: accesstoken.NewReplayCache(store)},
		Revocations: accesstoken.NewRevocations(store),
		Observer:    otelaccesstoken.NewObserver(otelaccesstoken.WithMeterProvider(mp)),
	})
	if err != nil {
		return nil, err
	}
	defer v.Close()

	// 3. The API and /metrics. /metrics is not behind the token check; in
	//    production serve it on an internal port.
	mux := http.NewServeMux()
	mux.Handle("GET /orders", httpauth.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := accesstoken.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s\n", claims.Subject)
	})))
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	addr := listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// 4. Traffic: good and bad tokens, a replayed DPoP proof, a revoked
	//    token.
	good := as.Token(map[string]any{"sub": "alice"})
	dead := as.OpaqueToken(nil)
	as.Revoke(dead)
	revoked := as.Token(map[string]any{"sub": "eve", "jti": "t-666"})
	if err := accesstoken.NewRevocations(store).RevokeToken(ctx, "t-666", time.Now().Add(time.Hour)); err != nil {
		return nil, err
	}
	key := accesstokentest.NewDPoPKey("ES256")
	bound := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	proof := key.Proof(http.MethodGet, base+"/orders", accesstokentest.WithAccessToken(bound))
	for _, auth := range []string{
		"Bearer " + good, "Bearer " + good, "Bearer " + good,
		"Bearer " + as.Token(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"Bearer " + as.OpaqueToken(map[string]any{"sub": "bob"}),
		"Bearer " + dead, "Bearer " + dead,
		"Bearer " + revoked,
		"DPoP " + bound, "DPoP " + bound, // the second sends the same proof again
		"",
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/orders", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if strings.HasPrefix(auth, "DPoP ") {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}

	// 5. What Prometheus would scrape: the accesstoken counters.
	lines, err := scrape(base + "/metrics")
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "accesstoken_") && strings.Contains(l, "_total") {
			fmt.Fprintln(out, l)
		}
	}

	if listen != "" {
		fmt.Fprintf(out, "serving %s/orders and %s/metrics; good token:\n%s\n", base, base, as.Token(map[string]any{"sub": "alice", "exp": time.Now().Add(24 * time.Hour).Unix()}))
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
	}
	return lines, nil
}

// scrape returns the sample lines of a Prometheus text exposition, sorted,
// without the otel_scope_* labels the exporter adds.
func scrape(url string) ([]string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, dropScopeLabels(l))
	}
	slices.Sort(lines)
	return lines, sc.Err()
}

func dropScopeLabels(l string) string {
	open, end := strings.IndexByte(l, '{'), strings.LastIndexByte(l, '}')
	if open < 0 || end < open {
		return l
	}
	var keep []string
	for _, label := range strings.Split(l[open+1:end], ",") {
		if !strings.HasPrefix(label, "otel_scope_") && label != "" {
			keep = append(keep, label)
		}
	}
	if len(keep) == 0 {
		return l[:open] + l[end+1:]
	}
	return l[:open] + "{" + strings.Join(keep, ",") + "}" + l[end+1:]
}
