package httpauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// TestLoadRotationAndOutage is a bounded reliability test: concurrent
// clients send valid, expired, forged and unknown-kid tokens through
// httpauth for a few seconds while the issuer rotates its keys twice and is
// down for a while. No forged, expired or unknown-kid token may pass, no
// valid one may be refused, token-started JWKS fetches stay within 3 per
// MinRefreshInterval, and no goroutine of the validator outlives Close.
//
// The issuer rotates as careful servers do: it publishes the next key, then
// signs with it a moment later. (A key used before it is published is
// picked up at once when no flood of made-up kids has spent the refresh
// budget; rotation_test.go in the core covers that case.)
//
// Run with -v to see its figures; scripts/test.sh does.
func TestLoadRotationAndOutage(t *testing.T) {
	const (
		window   = 400 * time.Millisecond // MinRefreshInterval
		duration = 4 * time.Second
		workers  = 8
		perCap   = 20000 // requests per worker at most
	)
	as := accesstokentest.NewServer() // mints the tokens; the JWKS below is the issuer's
	defer as.Close()
	iss := newRotatingIssuer(t)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, JWKSURL: iss.srv.URL,
		MinRefreshInterval: window, RefreshInterval: time.Hour, FetchTimeout: 2 * time.Second,
		StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	api := httptest.NewServer(httpauth.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
	})))
	defer api.Close()
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	kinds := []string{"valid", "expired", "forged", "unknown-kid"}
	type tally struct{ sent, accepted, s401, s503, other int }
	var mu sync.Mutex
	tallies := map[string]*tally{}
	for _, k := range kinds {
		tallies[k] = &tally{}
	}
	var latencies []time.Duration

	start := time.Now()
	deadline := start.Add(duration)
	stop := make(chan struct{})
	var script sync.WaitGroup
	script.Add(1)
	go func() { // the issuer's life
		defer script.Done()
		steps := []struct {
			at time.Duration
			do func()
		}{
			{600 * time.Millisecond, iss.publishNext},
			{1100 * time.Millisecond, iss.signWithNext},
			{1500 * time.Millisecond, iss.publishNext},
			{2000 * time.Millisecond, iss.signWithNext},
			{2400 * time.Millisecond, func() { iss.down.Store(true) }},
			{3400 * time.Millisecond, func() { iss.down.Store(false) }},
		}
		for _, s := range steps {
			select {
			case <-time.After(time.Until(start.Add(s.at))):
				s.do()
			case <-stop:
				return
			}
		}
	}()

	client := api.Client()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perCap && time.Now().Before(deadline); i++ {
				kind := kinds[(w+i)%len(kinds)]
				alg, kid, key := iss.signing(i)
				var tok string
				switch kind {
				case "valid":
					tok = as.Token(nil, accesstokentest.WithSigningKey(alg, key), accesstokentest.WithKeyID(kid))
				case "expired":
					tok = as.Token(nil, accesstokentest.WithSigningKey(alg, key), accesstokentest.WithKeyID(kid), accesstokentest.WithExpiry(-time.Minute))
				case "forged":
					tok = as.Token(nil, accesstokentest.WithSigningKey("RS256", attacker), accesstokentest.WithKeyID(iss.kidFor("RS256")))
				case "unknown-kid":
					tok = as.Token(nil, accesstokentest.WithSigningKey(alg, key), accesstokentest.WithKeyID(fmt.Sprintf("made-up-%d-%d", w, i)))
				}
				req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				t0 := time.Now()
				resp, err := client.Do(req)
				elapsed := time.Since(t0)
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				tl := tallies[kind]
				tl.sent++
				switch resp.StatusCode {
				case http.StatusOK:
					tl.accepted++
				case http.StatusUnauthorized:
					tl.s401++
				case http.StatusServiceUnavailable:
					tl.s503++
				default:
					tl.other++
				}
				if kind == "valid" {
					latencies = append(latencies, elapsed)
				}
				mu.Unlock()
				if kind == "valid" && resp.StatusCode != http.StatusOK {
					t.Errorf("valid %s token (kid %s) refused with %d at %v", alg, kid, resp.StatusCode, time.Since(start).Round(time.Millisecond))
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	script.Wait()
	elapsed := time.Since(start)

	total := 0
	for _, k := range kinds {
		tl := tallies[k]
		total += tl.sent
		t.Logf("load: %-11s sent %6d  accepted %6d  401 %6d  503 %5d  other %d", k, tl.sent, tl.accepted, tl.s401, tl.s503, tl.other)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	fetches := iss.fetchTimes()
	t.Logf("load: %d requests in %v (%.0f/s) by %d clients; valid p50 %v, p99 %v", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), workers, pct(0.50), pct(0.99))
	t.Logf("load: %d JWKS requests (%d while down), 2 rotations, outage 1s, MinRefreshInterval %v", len(fetches), iss.downHits.Load(), window)

	for _, k := range kinds[1:] {
		if n := tallies[k].accepted; n != 0 {
			t.Errorf("%d %s tokens accepted", n, k)
		}
	}
	if tallies["valid"].sent == 0 || tallies["unknown-kid"].sent == 0 {
		t.Fatal("the load did not run")
	}
	if got, want := reached.Load(), int64(tallies["valid"].accepted); got != want {
		t.Errorf("handler reached %d times, want %d (the accepted valid tokens)", got, want)
	}
	if iss.downHits.Load() == 0 {
		t.Error("no JWKS request while the issuer was down: the outage was not exercised")
	}
	// Fetch budget: any 4 consecutive token-started fetches (all but the
	// first, at start) span at least one window, less a little skew.
	for i := 1 + 3; i < len(fetches); i++ {
		if span := fetches[i].Sub(fetches[i-3]); span < window-20*time.Millisecond {
			t.Errorf("JWKS requests %d..%d within %v: more than 3 per %v", i-3, i, span, window)
		}
	}

	v.Close()
	// Close waited for them; allow the instant between their last deferred
	// call and their exit.
	deadlineGone := time.Now().Add(10 * time.Second)
	for validatorGoroutines() > 0 && time.Now().Before(deadlineGone) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := validatorGoroutines(); n != 0 {
		t.Errorf("%d validator goroutines left after Close", n)
	}
}

// validatorGoroutines counts goroutines running the validator's background
// code (key source or introspection).
func validatorGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "accesstoken.(*keySource)") || strings.Contains(g, "accesstoken.(*introspector)") {
			n++
		}
	}
	return n
}

// rotatingIssuer serves a JWKS of key generations: each generation has an
// RSA, a P-256 and an Ed25519 key. It publishes a generation before signing
// with it, keeps the previous one published, and can be down.
type rotatingIssuer struct {
	srv      *httptest.Server
	down     atomic.Bool
	downHits atomic.Int32

	mu        sync.Mutex
	gens      []*keyGen
	published int // the newest generation in the JWKS; the one before stays too
	inUse     int // the generation tokens are signed with
	fetches   []time.Time
}

type keyGen struct {
	n   int
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func newKeyGen(t testing.TB, n int) *keyGen {
	g := &keyGen{n: n}
	var err error
	if g.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if g.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, g.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return g
}

func newRotatingIssuer(t testing.TB) *rotatingIssuer {
	ri := &rotatingIssuer{}
	for n := range 3 {
		ri.gens = append(ri.gens, newKeyGen(t, n))
	}
	ri.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri.mu.Lock()
		ri.fetches = append(ri.fetches, time.Now())
		doc := ri.jwks()
		ri.mu.Unlock()
		if ri.down.Load() {
			ri.downHits.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(ri.srv.Close)
	return ri
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks is the document: the published generation and the one before it.
// Called with mu held.
func (ri *rotatingIssuer) jwks() []byte {
	var keys []string
	for n := max(0, ri.published-1); n <= ri.published; n++ {
		g := ri.gens[n]
		keys = append(keys,
			fmt.Sprintf(`{"kty":"RSA","kid":"rsa-%d","n":"%s","e":"%s"}`, n, b64url(g.rsa.N.Bytes()), b64url(big.NewInt(int64(g.rsa.E)).Bytes())),
			fmt.Sprintf(`{"kty":"EC","kid":"ec-%d","crv":"P-256","x":"%s","y":"%s"}`, n, b64url(g.ec.X.FillBytes(make([]byte, 32))), b64url(g.ec.Y.FillBytes(make([]byte, 32)))),
			fmt.Sprintf(`{"kty":"OKP","kid":"ed-%d","crv":"Ed25519","x":"%s"}`, n, b64url(g.ed.Public().(ed25519.PublicKey))))
	}
	return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`)
}

func (ri *rotatingIssuer) publishNext() {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.published++
}

func (ri *rotatingIssuer) signWithNext() {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.inUse++
}

// signing returns an algorithm, kid and key of the generation in use,
// cycling through the three key types by i.
func (ri *rotatingIssuer) signing(i int) (alg, kid string, key crypto.Signer) {
	ri.mu.Lock()
	g := ri.gens[ri.inUse]
	ri.mu.Unlock()
	switch i % 3 {
	case 0:
		return "RS256", fmt.Sprintf("rsa-%d", g.n), g.rsa
	case 1:
		return "ES256", fmt.Sprintf("ec-%d", g.n), g.ec
	}
	return "EdDSA", fmt.Sprintf("ed-%d", g.n), g.ed
}

func (ri *rotatingIssuer) kidFor(alg string) string {
	_, kid, _ := ri.signing(map[string]int{"RS256": 0, "ES256": 1, "EdDSA": 2}[alg])
	return kid
}

func (ri *rotatingIssuer) fetchTimes() []time.Time {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return slices.Clone(ri.fetches)
}
