package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/replica"
)

// staticFixture is a validator over one static RSA key, "k1", and a way to
// sign any header and claims with it.
type staticFixture struct {
	key *replica.Key
	now time.Time
}

func newStatic() *staticFixture {
	return &staticFixture{key: replica.NewKey(0, "k1"), now: time.Unix(1_800_000_000, 0)}
}

func (f *staticFixture) validator(t *testing.T, cfg Config) *Validator {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = map[string]any{"k1": f.key.Public()}
	}
	if cfg.Audience == nil {
		cfg.Audience = []string{"orders"}
	}
	cfg.Now = func() time.Time { return f.now }
	v, err := NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// token signs claims (over a good base for iss) with header members over
// {"alg": "RS256", "kid": "k1", "typ": "JWT"}.
func (f *staticFixture) token(iss string, claims, header map[string]any) string {
	t := f.now.Unix()
	base := map[string]any{"iss": iss, "aud": "orders", "sub": "alice", "iat": t - 10, "exp": t + 600}
	return f.key.Sign(replica.Merge(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, header), replica.Merge(base, claims))
}

func names(x *Explanation) []string {
	var out []string
	for _, c := range x.Checks {
		out = append(out, c.Name)
	}
	return out
}

// last is the check that failed (the last listed), checked to be the only
// one that did.
func last(t *testing.T, x *Explanation) Check {
	t.Helper()
	for _, c := range x.Checks[:len(x.Checks)-1] {
		if !c.OK {
			t.Fatalf("check %s failed before the last: %+v", c.Name, x.Checks)
		}
	}
	return x.Checks[len(x.Checks)-1]
}

func TestExplainAccepted(t *testing.T) {
	f := newStatic()
	v := f.validator(t, Config{Issuer: "https://as.example"})
	x := v.Explain(context.Background(), f.token("https://as.example", nil, nil))
	if !x.Accepted || x.Err != nil {
		t.Fatalf("not accepted: %v", x.Err)
	}
	if diff := cmp.Diff([]string{"format", "typ", "alg", "kid", "signature", "iss", "aud", "exp", "nbf", "iat"}, names(x)); diff != "" {
		t.Fatalf("checks (-want +got):\n%s", diff)
	}
	for _, c := range x.Checks {
		if !c.OK || c.Hint != "" {
			t.Fatalf("check %+v", c)
		}
	}
	if x.Claims["sub"] != "alice" {
		t.Fatalf("claims %v", x.Claims)
	}
	exp := x.Checks[7]
	if exp.Got != "2027-01-15T08:10:00Z (10m0s from now)" || !strings.HasPrefix(exp.Want, "after now (2027-01-15T08:00:00Z)") {
		t.Fatalf("exp check %+v", exp)
	}
}

// Each hint of the accesstoken command's list, from the token and
// configuration that cause it. The verdict is always Validate's.
func TestExplainHints(t *testing.T) {
	f := newStatic()
	const entraV2 = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
	const entraV1 = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
	cognito := &Profile{AudienceClaim: "/client_id", RequiredClaims: map[string]string{"/token_use": "access"}}
	entra := &Profile{RequiredClaims: map[string]string{"/tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		RefusedHeaders: map[string]string{"nonce": "Graph"}}
	t0 := f.now.Unix()
	tests := []struct {
		name   string
		cfg    Config
		token  string
		check  string // the check that fails
		hint   string // a part of its hint
		gotHas string // a part of its Got
	}{
		{name: "issuer differs by a trailing slash", cfg: Config{Issuer: "https://t.auth0.com"},
			token: f.token("https://t.auth0.com/", nil, nil), check: "iss", hint: "only by a trailing slash"},
		{name: "issuer differs by scheme", cfg: Config{Issuer: "https://sso.example.com/realms/demo"},
			token: f.token("http://sso.example.com/realms/demo", nil, nil), check: "iss", hint: "only by scheme"},
		{name: "Entra v1.0 token where v2.0 is configured", cfg: Config{Issuer: entraV2},
			token: f.token(entraV1, nil, nil), check: "iss", hint: "requestedAccessTokenVersion"},
		{name: "Entra v2.0 token where v1.0 is configured", cfg: Config{Issuer: entraV1},
			token: f.token(entraV2, nil, nil), check: "iss", hint: "an Entra ID v2.0 token where v1.0 tokens are configured"},
		{name: "Graph token", cfg: Config{Issuer: entraV1, Profile: entra},
			token: f.token(entraV1, map[string]any{"aud": "00000003-0000-0000-c000-000000000000"}, map[string]any{"nonce": "abc"}),
			check: "platform", hint: "Microsoft Graph"},
		{name: "Graph token without the Entra profile", cfg: Config{Issuer: entraV1},
			token: graphLike(f, entraV1), check: "signature", hint: "Microsoft Graph"},
		{name: "Entra token of another tenant", cfg: Config{Issuer: entraV1, Profile: entra},
			token: f.token(entraV1, map[string]any{"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}, nil), check: "platform", hint: "another Entra ID tenant"},
		{name: "Keycloak audience account only", cfg: Config{Issuer: "https://sso.example.com/realms/demo", Audience: []string{"orders-api"}},
			token: f.token("https://sso.example.com/realms/demo", map[string]any{"aud": "account"}, nil), check: "aud", hint: "audience mapper", gotHas: `"account"`},
		{name: "Entra App ID URI where the client ID is configured", cfg: Config{Issuer: entraV1, Audience: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"}},
			token: f.token(entraV1, map[string]any{"aud": "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"}, nil), check: "aud", hint: "list both"},
		{name: "Auth0 userinfo audience only", cfg: Config{Issuer: "https://t.auth0.com/", Audience: []string{"https://api.example.com"}},
			token: f.token("https://t.auth0.com/", map[string]any{"aud": "https://t.auth0.com/userinfo"}, nil), check: "aud", hint: "audience=https://api.example.com"},
		{name: "Cognito ID token naming the client", cfg: Config{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/p", Audience: []string{"app"}, Profile: cognito},
			token: f.token("https://cognito-idp.eu-west-1.amazonaws.com/p", map[string]any{"aud": "app", "client_id": "app", "token_use": "id"}, nil),
			check: "platform", hint: "Cognito ID token"},
		{name: "Cognito ID token", cfg: Config{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/p", Audience: []string{"app"}, Profile: cognito},
			token: f.token("https://cognito-idp.eu-west-1.amazonaws.com/p", map[string]any{"aud": "app", "token_use": "id"}, nil),
			check: "aud", hint: "ID token", gotHas: "/client_id absent"},
		{name: "Okta org server token", cfg: Config{Issuer: "https://example.okta.com/oauth2/default", Audience: []string{"api://default"}},
			token: f.token("https://example.okta.com", map[string]any{"aud": "https://example.okta.com"}, map[string]any{"kid": "org-key"}),
			check: "kid", hint: "Okta's org authorization server"},
		{name: "Google opaque token", cfg: Config{Issuer: "https://accounts.google.com"},
			token: "ya29.a0AfB_byC1opaque", check: "format", hint: "provider.GoogleAccessTokens"},
		{name: "other opaque token", cfg: Config{Issuer: "https://as.example"},
			token: "2YotnFZFEjr1zCsicMWpAA", check: "format", hint: "Config.Introspection"},
		{name: "expired moments ago: clock skew", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"exp": t0 - 40}, nil), check: "exp", hint: "Config.Leeway (say 1m0s)"},
		{name: "expired long ago", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"exp": t0 - 7200}, nil), check: "exp", hint: "get a new one", gotHas: "2h0m0s ago"},
		{name: "not yet valid: clock skew", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"nbf": t0 + 20}, nil), check: "nbf", hint: "clock skew"},
		{name: "issued in the future: clock skew", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"iat": t0 + 90}, nil), check: "iat", hint: "Config.Leeway (say 2m0s)"},
		{name: "no exp", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"exp": nil}, nil), check: "exp", hint: "no exp claim"},
		{name: "kid not in the key set", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", nil, map[string]any{"kid": "rotated-2026"}), check: "kid", hint: "rotated its keys", gotHas: "rotated-2026"},
		{name: "kid of another issuer", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://staging.as.example", nil, map[string]any{"kid": "stage"}), check: "kid", hint: "another issuer, tenant or environment"},
		{name: "algorithm outside Algorithms", cfg: Config{Issuer: "https://as.example", Algorithms: []string{"PS256"}},
			token: f.token("https://as.example", nil, nil), check: "alg", hint: "Config.Algorithms does not allow", gotHas: "RS256"},
		{name: "ID token used as an access token", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"aud": "spa-client", "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, nil),
			check: "aud", hint: "ID token"},
		{name: "ID token with a typ refused", cfg: Config{Issuer: "https://as.example", TokenTypes: []string{"at+jwt"}},
			token: f.token("https://as.example", map[string]any{"nonce": "n"}, nil), check: "typ", hint: "ID token"},
		{name: "JWE without Decryption", cfg: Config{Issuer: "https://as.example"},
			token: "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIiwiY3R5IjoiSldUIn0.a.b.c.d", check: "format", hint: "Config.Decryption"},
		{name: "bound token through Validate", cfg: Config{Issuer: "https://as.example"},
			token: f.token("https://as.example", map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, nil),
			check: "binding", hint: "ValidateRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.validator(t, tt.cfg)
			_, verdict := v.Validate(context.Background(), tt.token)
			x := v.Explain(context.Background(), tt.token)
			if x.Accepted || !errors.Is(x.Err, ErrInvalidToken) || fmt.Sprint(x.Err) != fmt.Sprint(verdict) {
				t.Fatalf("explanation's verdict %v, Validate's %v", x.Err, verdict)
			}
			c := last(t, x)
			if c.Name != tt.check || !strings.Contains(c.Hint, tt.hint) || !strings.Contains(c.Got, tt.gotHas) {
				t.Fatalf("failed check %+v; want %s with a hint containing %q and got %q\nall: %+v", c, tt.check, tt.hint, tt.gotHas, x.Checks)
			}
			if strings.Contains(fmt.Sprint(x.Checks), tt.token[strings.LastIndexByte(tt.token, '.')+1:]) && strings.Count(tt.token, ".") == 2 {
				t.Fatal("the explanation holds the signature")
			}
		})
	}
}

// graphLike is a token whose header has a nonce and whose signature covers
// another header, as Entra's Graph tokens are.
func graphLike(f *staticFixture, iss string) string {
	signed := f.token(iss, nil, map[string]any{"nonce": "hashed"})
	_, rest, _ := strings.Cut(signed, ".")
	h := f.token(iss, nil, map[string]any{"nonce": "raw"})
	head, _, _ := strings.Cut(h, ".")
	return head + "." + rest
}

// Discovery that fails because the metadata's issuer differs by a slash
// says so in the iss check, not only "unavailable".
func TestExplainDiscoveryMismatch(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "openid-configuration") {
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL+"/", srv.URL+"/keys")
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	v, err := NewValidator(context.Background(), Config{Issuer: srv.URL, Audience: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Refresh(context.Background())
	f := newStatic()
	x := v.Explain(context.Background(), f.token(srv.URL, nil, nil))
	c := last(t, x)
	if !errors.Is(x.Err, ErrUnavailable) || c.Name != "iss" || !strings.Contains(c.Hint, "only by a trailing slash") {
		t.Fatalf("%v: %+v", x.Err, x.Checks)
	}
}

func TestExplainMultiIssuer(t *testing.T) {
	f := newStatic()
	keys := map[string]any{"k1": f.key.Public()}
	now := func() time.Time { return f.now }
	m, err := NewMultiIssuer(context.Background(), MultiIssuerConfig{Issuers: []Config{
		{Issuer: "https://a.example", Audience: []string{"orders"}, Keys: keys, Now: now},
		{Issuer: "https://b.example", Audience: []string{"orders"}, Keys: keys, Now: now},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if x := m.Explain(ctx, f.token("https://b.example", map[string]any{"exp": 4102444800}, nil)); !x.Accepted {
		t.Fatalf("listed issuer: %v", x.Err)
	}
	x := m.Explain(ctx, f.token("https://c.example", nil, nil))
	c := last(t, x)
	if c.Name != "iss" || c.Want != `["https://a.example","https://b.example"]` || c.Got != `"https://c.example"` {
		t.Fatalf("%+v", x.Checks)
	}
}

// A JWE the validator can open is explained by the checks of the JWS
// inside; one it cannot open fails the format check with the cause.
func TestExplainJWE(t *testing.T) {
	f := newJWE(t, nil)
	ctx := context.Background()
	enc := accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "rsa", nil)
	x := f.v.Explain(ctx, f.as.Token(map[string]any{"aud": "account"}, enc))
	c := last(t, x)
	if x.Accepted || c.Name != "aud" || !strings.Contains(x.Checks[0].Got, "a JWS inside") || x.Claims["aud"] != "account" {
		t.Fatalf("%+v", x.Checks)
	}
	x = f.v.Explain(ctx, f.as.Token(nil, accesstokentest.WithEncryption("RSA-OAEP-256", "A256GCM", &f.rsa.PublicKey, "nope", nil)))
	if c := last(t, x); c.Name != "format" || !strings.Contains(c.Hint, `no decryption key "nope"`) {
		t.Fatalf("%+v", x.Checks)
	}
	if x := f.v.Explain(ctx, f.as.Token(map[string]any{"sub": "alice"}, enc)); !x.Accepted || x.Claims["sub"] != "alice" {
		t.Fatalf("accepted JWE: %v %+v", x.Err, x.Checks)
	}
}
