package accesstoken

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// countedServer is a test-kit authorization server that counts every
// request it receives.
type countedServer struct {
	*accesstokentest.Server
	hits atomic.Int32
}

func newCountedServer(t testing.TB, opts ...accesstokentest.Option) *countedServer {
	t.Helper()
	cs := &countedServer{}
	opts = append(opts, accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cs.hits.Add(1)
			next.ServeHTTP(w, r)
		})
	}))
	cs.Server = accesstokentest.NewServer(opts...)
	t.Cleanup(cs.Close)
	return cs
}

func TestMultiIssuerRouting(t *testing.T) {
	a := newCountedServer(t, accesstokentest.WithAudience("api-a"))
	b := newCountedServer(t, accesstokentest.WithAudience("api-b"))
	stranger := newCountedServer(t, accesstokentest.WithAudience("api-a"))
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{"api-a"}, StrictStart: true,
			Introspection: &IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret}},
		{Issuer: b.Issuer(), Audience: []string{"api-b"}, Algorithms: []string{"ES256"}, StrictStart: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bToken := b.Token(nil, accesstokentest.WithAlgorithm("ES256"))
	// A token that claims issuer a, signed with b's key under b's kid.
	header, _, _ := strings.Cut(bToken, ".")
	forgedPayload := b64(mustJSON(map[string]any{"iss": a.Issuer(), "aud": "api-a", "sub": "mallory", "exp": time.Now().Add(time.Hour).Unix()}))
	crossed := b.Token(map[string]any{"iss": a.Issuer(), "aud": "api-a"}, accesstokentest.WithAlgorithm("ES256"))
	tests := []struct {
		name    string
		token   string
		want    result
		subject string
		iss     string
	}{
		{"issuer a", a.Token(map[string]any{"sub": "alice"}), accepted, "alice", a.Issuer()},
		{"issuer a, EdDSA", a.Token(map[string]any{"sub": "alice"}, accesstokentest.WithAlgorithm("EdDSA")), accepted, "alice", a.Issuer()},
		{"issuer b", b.Token(map[string]any{"sub": "bob"}, accesstokentest.WithAlgorithm("ES256")), accepted, "bob", b.Issuer()},
		{"issuer b, alg only a allows", b.Token(nil, accesstokentest.WithAlgorithm("RS256")), result{ErrInvalidToken, descAlgorithm}, "", ""},
		{"issuer a, audience of b", a.Token(map[string]any{"aud": "api-b"}), result{ErrInvalidToken, descAudience}, "", ""},
		{"issuer b, audience of a", b.Token(map[string]any{"aud": "api-a"}, accesstokentest.WithAlgorithm("ES256")), result{ErrInvalidToken, descAudience}, "", ""},
		// Both test-kit servers name their P-256 key "ES256-1": a's key is
		// found under that kid, and b's signature does not verify with it.
		{"claims a, signed by b's key", crossed, result{ErrInvalidToken, descSignature}, "", ""},
		{"claims a, b's header and signature", header + "." + forgedPayload + "." + bToken[strings.LastIndexByte(bToken, '.')+1:], result{ErrInvalidToken, descSignature}, "", ""},
		{"unlisted issuer", stranger.Token(nil), result{ErrInvalidToken, descIssuer}, "", ""},
		{"iss pointing at a server", a.Token(map[string]any{"iss": stranger.Issuer() + "/anything"}), result{ErrInvalidToken, descIssuer}, "", ""},
		{"no iss", a.Token(map[string]any{"iss": nil}), result{ErrInvalidToken, descIssuer}, "", ""},
		{"iss not a string", a.Token(map[string]any{"iss": 7}), result{ErrInvalidToken, descMalformed}, "", ""},
		{"payload not base64", "eyJhbGciOiJSUzI1NiJ9.%%%.c2ln", result{ErrInvalidToken, descMalformed}, "", ""},
		{"expired", a.Token(nil, accesstokentest.WithExpiry(-time.Minute)), result{ErrInvalidToken, descExpired}, "", ""},
		{"opaque token of a", a.OpaqueToken(map[string]any{"sub": "carol", "aud": "api-a"}), accepted, "carol", a.Issuer()},
		{"opaque token of b goes to a", b.OpaqueToken(map[string]any{"aud": "api-b"}), result{ErrInvalidToken, descInactive}, "", ""},
		{"empty", "", result{ErrNoToken, ""}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time, the verified-token cache answers
				c, err := m.Validate(context.Background(), tt.token)
				checkResult(t, c, err, tt.want)
				if err == nil {
					if diff := cmp.Diff([]string{tt.subject, tt.iss}, []string{c.Subject, c.Issuer}); diff != "" {
						t.Errorf("subject, issuer (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
	if n := stranger.hits.Load(); n != 0 {
		t.Errorf("the unlisted issuer received %d requests", n)
	}
	if n := b.hits.Load(); n != 2 { // discovery and the JWKS; never introspection
		t.Errorf("issuer b received %d requests, want 2", n)
	}
}

func TestMultiIssuerConfigErrors(t *testing.T) {
	a := newCountedServer(t)
	intro := &IntrospectionConfig{ClientID: "x", ClientSecret: "y"}
	tests := []struct {
		name string
		cfg  MultiIssuerConfig
		say  string
	}{
		{"nothing", MultiIssuerConfig{}, "needs Issuers, Resolve or both"},
		{"listed twice", MultiIssuerConfig{Issuers: []Config{{Issuer: a.Issuer(), Audience: []string{"x"}}, {Issuer: a.Issuer(), Audience: []string{"y"}}}}, "twice"},
		{"two introspecting issuers", MultiIssuerConfig{Issuers: []Config{
			{Issuer: a.Issuer(), Audience: []string{"x"}, Introspection: intro},
			{Issuer: a.Issuer() + "/other", Audience: []string{"x"}, Introspection: intro}}}, "both set Introspection"},
		{"bad issuer config", MultiIssuerConfig{Issuers: []Config{{Issuer: a.Issuer()}}}, "Issuers[0]"},
		{"negative MaxIssuers", MultiIssuerConfig{Issuers: []Config{{Issuer: a.Issuer(), Audience: []string{"x"}}}, MaxIssuers: -1}, "MaxIssuers"},
	}
	before := keySourceGoroutines()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMultiIssuer(context.Background(), tt.cfg)
			if err == nil {
				m.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error %q does not say %q", err, tt.say)
			}
		})
	}
	// Validators started before the error are closed again.
	eventually(t, "no validator left running", func() bool { return keySourceGoroutines() <= before })
}

// tenants serves issuers on demand: every issuer URL of its servers is a
// tenant Resolve trusts; it counts the calls.
type tenants struct {
	mu      sync.Mutex
	servers map[string]*countedServer
	calls   map[string]int
	delay   time.Duration
	err     error
}

func (tn *tenants) resolve(ctx context.Context, issuer string) (*Config, error) {
	tn.mu.Lock()
	tn.calls[issuer]++
	s := tn.servers[issuer]
	delay, err := tn.delay, tn.err
	tn.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, nil
	}
	return &Config{Issuer: issuer, Audience: []string{s.Audience()}}, nil
}

func (tn *tenants) callsFor(issuer string) int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.calls[issuer]
}

func newTenants(t *testing.T, n int) (*tenants, []*countedServer) {
	tn := &tenants{servers: map[string]*countedServer{}, calls: map[string]int{}}
	var list []*countedServer
	for range n {
		s := newCountedServer(t)
		tn.servers[s.Issuer()] = s
		list = append(list, s)
	}
	return tn, list
}

func TestMultiIssuerResolve(t *testing.T) {
	tn, servers := newTenants(t, 3)
	stranger := newCountedServer(t)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Resolve: tn.resolve})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// Concurrent first sights of one issuer share one Resolve call.
	tn.delay = 100 * time.Millisecond
	tok := servers[0].Token(nil)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = m.Validate(context.Background(), tok)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := tn.callsFor(servers[0].Issuer()); n != 1 {
		t.Errorf("Resolve called %d times for concurrent first sights, want 1", n)
	}
	tn.delay = 0

	// A known tenant is not asked again.
	if _, err := m.Validate(context.Background(), servers[0].Token(nil, accesstokentest.WithAlgorithm("ES384"))); err != nil {
		t.Fatal(err)
	}
	if n := tn.callsFor(servers[0].Issuer()); n != 1 {
		t.Errorf("Resolve called %d times, want 1", n)
	}

	// Untrusted: invalid_token, no request to it, and asked again next time.
	for range 2 {
		_, err := m.Validate(context.Background(), stranger.Token(nil))
		checkResult(t, nil, err, result{ErrInvalidToken, descIssuer})
	}
	if n := stranger.hits.Load(); n != 0 {
		t.Errorf("untrusted issuer received %d requests", n)
	}
	if n := tn.callsFor(stranger.Issuer()); n != 2 {
		t.Errorf("Resolve asked %d times about the stranger, want 2 (no negative cache)", n)
	}

	// Resolve failing is ErrUnavailable, and not remembered.
	tn.err = errors.New("tenant database down")
	_, err = m.Validate(context.Background(), servers[1].Token(nil))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Resolve error: %v, want ErrUnavailable", err)
	}
	tn.err = nil
	if _, err := m.Validate(context.Background(), servers[1].Token(nil)); err != nil {
		t.Fatalf("after Resolve recovered: %v", err)
	}

	// Resolve gets the request's context.
	tn.delay = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = m.Validate(ctx, servers[2].Token(nil))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Resolve past the request deadline: %v, want ErrUnavailable", err)
	}
	tn.delay = 0
}

func TestMultiIssuerResolveWrongIssuer(t *testing.T) {
	a := newCountedServer(t)
	b := newCountedServer(t)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{
		Resolve: func(_ context.Context, issuer string) (*Config, error) {
			return &Config{Issuer: b.Issuer(), Audience: []string{b.Audience()}}, nil // whatever was asked
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Validate(context.Background(), a.Token(nil))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Config for another issuer: %v, want ErrUnavailable", err)
	}
	if a.hits.Load() != 0 || b.hits.Load() != 0 {
		t.Errorf("requests made: a %d, b %d", a.hits.Load(), b.hits.Load())
	}
}

// TestMultiIssuerEviction: past MaxIssuers the least recently used resolved
// issuer is closed; listed issuers never are; an evicted issuer comes back
// through Resolve.
func TestMultiIssuerEviction(t *testing.T) {
	tn, servers := newTenants(t, 4)
	listed := newCountedServer(t)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{
		Issuers:    []Config{{Issuer: listed.Issuer(), Audience: []string{listed.Audience()}}},
		Resolve:    tn.resolve,
		MaxIssuers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	validate := func(s *countedServer) {
		t.Helper()
		time.Sleep(2 * time.Millisecond) // recency is kept to the millisecond
		if _, err := m.Validate(context.Background(), s.Token(nil)); err != nil {
			t.Fatalf("%s: %v", s.Issuer(), err)
		}
	}
	validate(servers[0])
	validate(servers[1])
	validate(servers[0]) // 1 is now the least recently used
	validate(servers[2]) // evicts 1
	validate(listed)
	m.mu.RLock()
	var held []string
	for iss := range m.resolved {
		held = append(held, iss)
	}
	m.mu.RUnlock()
	want := []string{servers[0].Issuer(), servers[2].Issuer()}
	if diff := cmp.Diff(want, held, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("resolved issuers held (-want +got):\n%s", diff)
	}
	validate(servers[1]) // resolved again
	if n := tn.callsFor(servers[1].Issuer()); n != 2 {
		t.Errorf("Resolve asked %d times about the evicted issuer, want 2", n)
	}
	// Listed plus at most MaxIssuers validators run.
	eventually(t, "evicted validators closed", func() bool { return keySourceGoroutines() <= 3 })
}

// TestMultiIssuerEvictionWaitsForValidations: an issuer evicted while a
// validation on it waits for keys is closed only after that validation.
func TestMultiIssuerEvictionWaitsForValidations(t *testing.T) {
	ri := newRawIssuer(t)
	ri.delay.Store(int64(300 * time.Millisecond))
	tn, servers := newTenants(t, 1)
	resolve := func(ctx context.Context, issuer string) (*Config, error) {
		if issuer == ri.srv.URL {
			return &Config{Issuer: issuer, Audience: []string{"api"}}, nil
		}
		return tn.resolve(ctx, issuer)
	}
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Resolve: resolve, MaxIssuers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() {
		_, err := m.Validate(context.Background(), mint("RS256", ri.claims()))
		done <- err
	}()
	eventually(t, "the slow issuer to be fetching", func() bool { return ri.hits.Load() > 0 })
	if _, err := m.Validate(context.Background(), servers[0].Token(nil)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("validation on the evicted issuer: %v", err)
	}
	eventually(t, "the evicted validator closed", func() bool { return keySourceGoroutines() <= 1 })
}

func TestMultiIssuerCloseAndRefresh(t *testing.T) {
	a := newCountedServer(t)
	down := accesstokentest.NewServer()
	down.Close()
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{{Issuer: a.Issuer(), Audience: []string{a.Audience()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	tok := a.Token(nil)
	if _, err := m.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	if _, err := m.Validate(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after Close: %v, want ErrUnavailable", err)
	}
	eventually(t, "validators closed", func() bool { return keySourceGoroutines() == 0 })

	m2, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}},
		{Issuer: down.Issuer(), Audience: []string{"x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded while one issuer is down")
	}
}

// TestMultiIssuerStaticAndJWKS: one issuer with static keys beside one with a
// JWKS; an HMAC token naming the JWKS issuer is refused.
func TestMultiIssuerStaticAndJWKS(t *testing.T) {
	a := newCountedServer(t)
	secret := []byte(strings.Repeat("z", 32))
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}},
		{Issuer: "batch-jobs", Audience: []string{a.Audience()}, Algorithms: []string{"HS256"}, Keys: map[string]any{"": secret}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	claims := func(iss string) map[string]any {
		return map[string]any{"iss": iss, "aud": a.Audience(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	c, err := m.Validate(context.Background(), hmacSign(sha256.New, secret, `{"alg":"HS256"}`, claims("batch-jobs")))
	checkResult(t, c, err, accepted)
	c, err = m.Validate(context.Background(), hmacSign(sha256.New, secret, `{"alg":"HS256"}`, claims(a.Issuer())))
	checkResult(t, c, err, result{ErrInvalidToken, descAlgorithm})
}

// TestMultiIssuerValidateRequest: DPoP and certificate rules of the issuer
// a token names, and one nonce for all issuers.
func TestMultiIssuerValidateRequest(t *testing.T) {
	a := newCountedServer(t)
	b := newCountedServer(t)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, DPoP: &DPoPConfig{Nonces: true}},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, DPoP: &DPoPConfig{Nonces: true, Required: true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	key := accesstokentest.NewDPoPKey("ES256")
	nonce := m.DPoPNonce()
	if nonce == "" {
		t.Fatal("no nonce")
	}
	for _, s := range []*countedServer{a, b} {
		tok := s.Token(nil, accesstokentest.WithDPoPKey(key))
		r := &Request{Scheme: "DPoP", Token: tok, Method: "GET", URL: apiURL,
			DPoPProof: key.Proof("GET", apiURL, accesstokentest.WithAccessToken(tok), accesstokentest.WithNonce(nonce))}
		if _, err := m.ValidateRequest(context.Background(), r); err != nil {
			t.Fatalf("%s with the shared nonce: %v", s.Issuer(), err)
		}
	}
	// Bearer tokens: a accepts them, b requires DPoP.
	c, err := m.ValidateRequest(context.Background(), &Request{Token: a.Token(nil)})
	checkResult(t, c, err, accepted)
	c, err = m.ValidateRequest(context.Background(), &Request{Token: b.Token(nil)})
	checkResult(t, c, err, result{ErrInvalidToken, descBearerRefused})
	if ch := AsError(err).Challenge(""); ch != `DPoP error="invalid_token", error_description="The access token must be bound to a DPoP key", algs="ES256 ES384 ES512 PS256 RS256 EdDSA Ed25519"` {
		t.Errorf("challenge %q", ch)
	}
	// Before any issuer is known: the first DPoP issuer's challenge.
	_, err = m.ValidateRequest(context.Background(), &Request{})
	if e := AsError(err); !errors.Is(err, ErrNoToken) || !strings.Contains(e.Challenge(""), "DPoP") || e.DPoPNonce != nonce {
		t.Errorf("no token: %v, challenge %q, nonce %q", err, e.Challenge(""), e.DPoPNonce)
	}
	// Validate keeps refusing bound tokens.
	_, err = m.Validate(context.Background(), a.Token(nil, accesstokentest.WithDPoPKey(key)))
	checkResult(t, nil, err, result{ErrInvalidToken, descBound})

	_, err = NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{"x"}, DPoP: &DPoPConfig{Nonces: true, NonceSecret: make([]byte, 32)}},
		{Issuer: b.Issuer(), Audience: []string{"x"}, DPoP: &DPoPConfig{Nonces: true, NonceSecret: bytes32(1)}},
	}})
	if err == nil || !strings.Contains(err.Error(), "NonceSecret") {
		t.Errorf("different nonce secrets: %v", err)
	}
}

func bytes32(b byte) []byte {
	out := make([]byte, 32)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestMultiIssuerNonceSecretShared: an issuer without a NonceSecret uses the
// one another listed issuer set.
func TestMultiIssuerNonceSecretShared(t *testing.T) {
	a := newCountedServer(t)
	b := newCountedServer(t)
	secret := bytes32(7)
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}, DPoP: &DPoPConfig{Nonces: true}},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}, DPoP: &DPoPConfig{Nonces: true, NonceSecret: secret}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if na, nb := m.listed[a.Issuer()].DPoPNonce(), m.listed[b.Issuer()].DPoPNonce(); na != nb {
		t.Fatalf("nonces differ: %q, %q", na, nb)
	}
}
