package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// TestLoadServe drives a running "accesstoken serve" over loopback for a
// bounded time with a few concurrent clients, through ForwardAuth and
// through ext_authz Check, and in the same run calls Validate directly,
// then reports requests per second and p99 of each. Every answer must be an
// acceptance. It is skipped by scripts/test.sh's default run (-skip
// '^TestLoad') and run on demand:
//
//	go test -run TestLoadServe -v ./cmd/accesstoken
func TestLoadServe(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	as := accesstokentest.NewServer()
	defer as.Close()
	s := startServe(t, nil, "--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
		"--required-scope", "orders:read")
	token := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	const workers = 4
	duration := 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("LOAD_DURATION")); err == nil {
		duration = d
	}

	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	forwardAuth := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.http+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	conn, err := grpc.NewClient(s.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/orders",
			Headers: map[string]string{"authorization": "Bearer " + token}}}}}
	check := func(ctx context.Context) error {
		resp, err := client.Check(ctx, req)
		if err != nil {
			return err
		}
		if resp.GetOkResponse() == nil {
			return fmt.Errorf("denied: %v", resp.GetStatus())
		}
		return nil
	}
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	defer v.Close()
	validate := func(ctx context.Context) error {
		_, err := v.Validate(ctx, token)
		return err
	}
	for _, c := range []struct {
		name string
		fn   func(context.Context) error
	}{{"Validate (in process)", validate}, {"ForwardAuth (HTTP)", forwardAuth}, {"ext_authz Check (gRPC)", check}} {
		rps, p50, p99, n := load(t, c.fn, workers, duration)
		t.Logf("%-24s %8.0f req/s  p50 %8v  p99 %8v  (%d requests, %d clients, %v)", c.name, rps, p50, p99, n, workers, duration)
	}
}

// load runs fn from workers goroutines for d and returns the rate and the
// latency percentiles. Any error fails the test.
func load(t *testing.T, fn func(context.Context) error, workers int, d time.Duration) (rps float64, p50, p99 time.Duration, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil && len(mine) < 2_000_000 {
				t0 := time.Now()
				if err := fn(context.Background()); err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	if len(all) == 0 {
		t.Fatal("no request completed")
	}
	return float64(len(all)) / elapsed.Seconds(), all[len(all)/2], all[len(all)*99/100], len(all)
}
