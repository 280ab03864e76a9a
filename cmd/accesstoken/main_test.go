package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/replica"
)

// The tests build the command and run it as a user would, against replicas
// of the platforms (internal/replica) reached through an HTTPS proxy on
// loopback (HTTPS_PROXY) and trusted through SSL_CERT_FILE, so that the
// binary talks TLS to the platforms' real host names.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "accesstoken-cmd")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "accesstoken")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the command: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is the replicas, the proxy and the environment the binary runs in.
type world struct {
	n     *replica.Net
	env   []string
	entra *replica.Entra
	auth0 *replica.Auth0
	okta  *replica.Okta
	kc    *replica.Keycloak
	cog   *replica.Cognito
	goog  *replica.Google
}

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func newWorld(t *testing.T) *world {
	n := replica.NewNet(t)
	w := &world{n: n,
		entra: replica.NewEntra(n, tenant),
		auth0: replica.NewAuth0(n, "example.eu.auth0.com"),
		okta:  replica.NewOkta(n, "example.okta.com", "default"),
		kc:    replica.NewKeycloak(n, "sso.example.com", "demo"),
		cog:   replica.NewCognito(n, "eu-west-1", "eu-west-1_AbCdEf123"),
		goog:  replica.NewGoogle(n),
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR":
			continue
		}
		env = append(env, kv)
	}
	w.env = append(env, "HTTPS_PROXY="+n.Proxy(t), "SSL_CERT_FILE="+n.CAFile(t, t.TempDir()), "NO_PROXY=")
	return w
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *world) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return r
}

// signatureOf is a token's third segment, which output must never hold.
func signatureOf(token string) string {
	if strings.Count(token, ".") != 2 {
		return ""
	}
	return token[strings.LastIndexByte(token, '.')+1:]
}

type jsonReport struct {
	Accepted bool              `json:"accepted"`
	Error    string            `json:"error"`
	Checks   []json.RawMessage `json:"checks"`
	Claims   map[string]any    `json:"claims"`
}

type jsonCheck struct {
	Name, Got, Want, Hint string
	OK                    bool
}

// checkJSON runs check --json and decodes the report, holding it to
// DESIGN.md's shape: exactly the members accepted, error, checks, claims;
// each check exactly name, ok, got, want and hint; names from the list, in
// its order, each once.
func (w *world) checkJSON(t *testing.T, token string, args ...string) (int, jsonReport, []jsonCheck) {
	t.Helper()
	r := w.run(t, token, append(append([]string{"check", "--json"}, args...), "-")...)
	if sig := signatureOf(token); sig != "" && strings.Contains(r.stdout+r.stderr, sig) {
		t.Fatal("the output holds the token's signature")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &top); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", r.code, r.stdout, r.stderr, err)
	}
	for k := range top {
		if !slices.Contains([]string{"accepted", "error", "checks", "claims"}, k) {
			t.Fatalf("member %q is not in DESIGN.md's report", k)
		}
	}
	var rep jsonReport
	json.Unmarshal([]byte(r.stdout), &rep)
	order := []string{"format", "typ", "alg", "kid", "signature", "iss", "aud", "exp", "nbf", "iat", "binding", "active", "revoked", "platform"}
	var checks []jsonCheck
	prev := -1
	for _, raw := range rep.Checks {
		var m map[string]any
		json.Unmarshal(raw, &m)
		for k := range m {
			if !slices.Contains([]string{"name", "ok", "got", "want", "hint"}, k) {
				t.Fatalf("check member %q is not in DESIGN.md's report", k)
			}
		}
		var c jsonCheck
		json.Unmarshal(raw, &c)
		i := slices.Index(order, c.Name)
		if i <= prev {
			t.Fatalf("check %q out of order or repeated: %s", c.Name, r.stdout)
		}
		prev = i
		checks = append(checks, c)
	}
	return r.code, rep, checks
}

func failed(checks []jsonCheck) jsonCheck {
	for _, c := range checks {
		if !c.OK {
			return c
		}
	}
	return jsonCheck{}
}

func TestCheckHints(t *testing.T) {
	w := newWorld(t)
	now := time.Now().Unix()
	auth0 := []string{"--provider", "auth0", "--domain", "example.eu.auth0.com", "--audience", replica.Auth0API}
	entra := []string{"--provider", "entra", "--tenant", tenant, "--audience", replica.EntraAPIClientID}
	keycloak := []string{"--provider", "keycloak", "--issuer", w.kc.Issuer, "--audience", replica.KeycloakAPI}
	cognito := []string{"--provider", "cognito", "--region", "eu-west-1", "--user-pool", "eu-west-1_AbCdEf123", "--client-id", replica.CognitoClientID}
	okta := []string{"--provider", "okta", "--issuer", "https://example.okta.com/oauth2/default", "--audience", "api://default"}
	v2 := "https://login.microsoftonline.com/" + tenant + "/v2.0"
	tests := []struct {
		name  string
		args  []string
		token string
		code  int
		check string // the failed check; "" when accepted
		hint  string
	}{
		{"Auth0 token accepted", auth0, w.auth0.AccessToken(nil), 0, "", ""},
		{"issuer differs by a trailing slash", []string{"--issuer", "https://example.eu.auth0.com/", "--audience", replica.Auth0API},
			w.auth0.AccessToken(map[string]any{"iss": "https://example.eu.auth0.com"}), 1, "iss", "only by a trailing slash"},
		{"discovery fails on the slash", []string{"--issuer", "https://example.eu.auth0.com", "--audience", replica.Auth0API},
			w.auth0.AccessToken(map[string]any{"iss": "https://example.eu.auth0.com"}), 3, "iss", "only by a trailing slash"},
		{"Entra v1.0 token where v2.0 is configured", []string{"--issuer", v2, "--jwks-url", "https://login.microsoftonline.com/" + tenant + "/discovery/v2.0/keys",
			"--audience", replica.EntraAPIAppIDURI}, w.entra.AccessToken(tenant, false, nil), 1, "iss", "requestedAccessTokenVersion"},
		{"Entra tokens of both versions accepted", entra, w.entra.AccessToken(tenant, true, nil), 0, "", ""},
		{"Graph token", entra, w.entra.GraphToken(tenant), 1, "platform", "Microsoft Graph"},
		{"Keycloak audience account only", keycloak, w.kc.AccessToken(map[string]any{"aud": "account"}), 1, "aud", "audience mapper"},
		{"Cognito ID token", cognito, w.cog.IDToken(nil), 1, "aud", "ID token"},
		{"Cognito access token accepted", cognito, w.cog.AccessToken(nil), 0, "", ""},
		{"Okta org-server token", okta, w.okta.OrgToken(nil), 1, "kid", "Okta's org authorization server"},
		{"Google opaque token to a JWT validator", []string{"--issuer", "https://accounts.google.com", "--audience", replica.GoogleClientID},
			w.goog.AccessToken("ya29.a0AfB_byC1cli", nil), 1, "format", "provider.GoogleAccessTokens"},
		{"Google opaque token through tokeninfo", []string{"--provider", "google", "--client-id", replica.GoogleClientID},
			w.goog.AccessToken("ya29.a0AfB_byC1cli2", nil), 0, "", ""},
		{"clock skew", auth0, w.auth0.AccessToken(map[string]any{"exp": now - 20}), 1, "exp", "Config.Leeway"},
		{"clock skew allowed by --leeway", append([]string{"--leeway", "2m"}, auth0...), w.auth0.AccessToken(map[string]any{"exp": now - 20}), 0, "", ""},
		{"judged as of a past time with --at", append([]string{"--at", time.Unix(now-3600, 0).UTC().Format(time.RFC3339)}, auth0...),
			w.auth0.AccessToken(map[string]any{"exp": now - 1800, "iat": now - 7200}), 0, "", ""},
		{"kid not in the JWKS", auth0, signWithKid(w.auth0, "retired-2025"), 1, "kid", "rotated its keys"},
		{"algorithm outside --algorithm", append([]string{"--algorithm", "ES256"}, auth0...), w.auth0.AccessToken(nil), 1, "alg", "Config.Algorithms does not allow"},
		{"ID token as an access token", keycloak, w.kc.IDToken(nil), 1, "aud", "ID token"},
		{"JWE without Decryption", auth0, "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIiwiY3R5IjoiSldUIn0.a.b.c.d", 1, "format", "Config.Decryption"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.n.Reset()
			code, rep, checks := w.checkJSON(t, tt.token, tt.args...)
			if code != tt.code || rep.Accepted != (tt.check == "") {
				t.Fatalf("exit %d accepted %v (%s), want exit %d", code, rep.Accepted, rep.Error, tt.code)
			}
			if tt.check == "" {
				if f := failed(checks); f.Name != "" || len(checks) < 8 || rep.Error != "" {
					t.Fatalf("accepted with checks %+v", checks)
				}
				return
			}
			f := failed(checks)
			if f.Name != tt.check || !strings.Contains(f.Hint, tt.hint) {
				t.Fatalf("failed check %+v, want %s with a hint containing %q", f, tt.check, tt.hint)
			}
			if checks[len(checks)-1].Name != f.Name {
				t.Fatalf("checks listed after the failed one: %+v", checks)
			}
			w.tokenStayedHome(t, tt.token)
		})
	}
}

// tokenStayedHome checks that no request carried the token, except Google's
// tokeninfo, where the token is what is asked about.
func (w *world) tokenStayedHome(t *testing.T, token string) {
	t.Helper()
	for _, r := range w.n.Requests() {
		leak := strings.Contains(r.Path+r.Query, token) || strings.Contains(fmt.Sprint(r.Header), token)
		if r.Host != "oauth2.googleapis.com" {
			leak = leak || strings.Contains(fmt.Sprint(r.Form), token)
		}
		if leak {
			t.Fatalf("the token was sent to %s %s", r.Host, r.Path)
		}
	}
}

func signWithKid(a *replica.Auth0, kid string) string {
	t := time.Now().Unix()
	return a.Key.Sign(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, map[string]any{
		"iss": "https://example.eu.auth0.com/", "sub": "auth0|1", "aud": replica.Auth0API, "iat": t, "exp": t + 600})
}

func TestCheckExitCodesAndText(t *testing.T) {
	w := newWorld(t)
	token := w.auth0.AccessToken(nil)
	auth0 := []string{"--provider", "auth0", "--domain", "example.eu.auth0.com", "--audience", replica.Auth0API}

	r := w.run(t, "", append(append([]string{"check"}, auth0...), token)...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ACCEPTED\n") || !strings.Contains(r.stdout, "claims (verified):") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.run(t, "Bearer "+w.auth0.AccessToken(map[string]any{"aud": "https://other.example.com"})+"\n", append([]string{"check"}, auth0...)...)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL aud") || !strings.Contains(r.stdout, "NOT verified") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, args := range map[string][]string{
		"no issuer":              {"check", "--audience", "a", token},
		"unknown flag":           {"check", "--nope", token},
		"bad --at":               {"check", "--issuer", "https://a.example", "--audience", "a", "--at", "yesterday", token},
		"unknown platform":       {"check", "--provider", "ping", token},
		"okta org server":        {"check", "--provider", "okta", "--issuer", "https://example.okta.com", "--audience", "a", token},
		"cognito without client": {"check", "--provider", "cognito", "--region", "r", "--user-pool", "p", token},
		"no command":             {},
		"two tokens":             {"inspect", token, token},
	} {
		if r := w.run(t, "", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q, want 2 and a message", name, r.code, r.stderr)
		}
	}
	r = w.run(t, "", "check", "--provider", "okta", "--issuer", "https://example.okta.com", "--audience", "a", token)
	if !strings.Contains(r.stderr, "org authorization server") {
		t.Fatalf("the Okta org server's message: %q", r.stderr)
	}
	// An issuer no one answers for: exit 3.
	r = w.run(t, "", "check", "--issuer", "https://down.example.com", "--audience", "a", "--timeout", "3s", token)
	if r.code != 3 {
		t.Fatalf("unreachable issuer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := w.run(t, "", "check", "-h"); r.code != 0 || !strings.Contains(r.stderr, "--provider") && !strings.Contains(r.stderr, "-provider") {
		t.Fatalf("check -h: exit %d %q", r.code, r.stderr)
	}
}

func TestInspect(t *testing.T) {
	w := newWorld(t)
	token := w.okta.AccessToken(nil)
	r := w.run(t, token, "inspect")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "NOT VERIFIED") || strings.Contains(r.stdout, signatureOf(token)) {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`cid +"0oa1pcgmkfQ4fMy8i0h8"`),
		regexp.MustCompile(`exp +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59m\d+s|1h0m0s)\)`),
		regexp.MustCompile(`iat +\S+Z \((1m)?\d+s ago\)`),
		regexp.MustCompile(`signature: 256 bytes, not verified`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("inspect output does not match %s:\n%s", want, r.stdout)
		}
	}
	r = w.run(t, "", "inspect", "--json", token)
	var got struct {
		Verified bool                         `json:"verified"`
		Times    map[string]map[string]string `json:"times"`
		Header   map[string]any               `json:"header"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Verified || got.Times["exp"]["time"] == "" || got.Header["kid"] == nil {
		t.Fatalf("inspect --json: %v %+v\n%s", err, got, r.stdout)
	}
	if _, err := time.Parse(time.RFC3339, got.Times["exp"]["time"]); err != nil {
		t.Fatalf("exp time %q is not RFC 3339", got.Times["exp"]["time"])
	}
	if len(w.n.Requests()) != 0 || len(w.n.Tunnels()) != 0 {
		t.Fatal("inspect made a request")
	}
	r = w.run(t, "", "inspect", "2YotnFZFEjr1zCsicMWpAA")
	if r.code != 0 || !strings.Contains(r.stdout, "opaque") {
		t.Fatalf("opaque: %d %s", r.code, r.stdout)
	}
}

func TestDiscover(t *testing.T) {
	w := newWorld(t)
	// A broken issuer: every problem discover knows, at once.
	w.n.Handle("broken.example.com", brokenIssuer(t))

	tests := []struct {
		issuer string
		code   int
		want   []string // parts of findings
	}{
		{"https://example.eu.auth0.com/", 0, nil},
		{"https://sso.example.com/realms/demo", 0, []string{"note: key \"lmvBHdkmA5zj0fS9oH5EU0xN9_bVD0JyC3K7WE2oE4w\" is an encryption key"}},
		{"https://accounts.google.com", 0, []string{"warning: jwks_uri is on another origin (www.googleapis.com)"}},
		{"https://example.okta.com/oauth2/default", 0, nil},
		{"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123", 0, []string{"warning: the key set has no Cache-Control"}},
		{"https://broken.example.com", 1, []string{
			`problem: the metadata names issuer "https://broken.example.com/", not "https://broken.example.com" (they differ only by a trailing slash)`,
			"problem: introspection_endpoint http://broken.example.com/introspect is not https",
			"warning: the key set has no Cache-Control header",
			`problem: key "a" is RSA with 1024 bits`,
			`problem: kid "dup" names two different keys`,
			"problem: key 3 has no kid",
			`problem: key "p192" (kty "EC", crv "P-192", alg "") fits none of the allowed algorithms`,
			`problem: key "pq-no-alg" is a post-quantum AKP key without alg`,
			`note: key "pq-65" is a post-quantum ML-DSA-65 key (RFC 9964); ML-DSA is opt-in: list it with --algorithm ML-DSA-65`,
		}},
		{"https://nowhere.example.com", 3, []string{"problem: the issuer could not be reached"}},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			r := w.run(t, "", "discover", "--json", tt.issuer)
			var d struct {
				OK       bool
				Findings []struct{ Severity, Message string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
			}
			var got []string
			for _, f := range d.Findings {
				got = append(got, f.Severity+": "+f.Message)
			}
			if r.code != tt.code || d.OK != (tt.code == 0) {
				t.Fatalf("exit %d, ok %v, want %d; findings:\n%s", r.code, d.OK, tt.code, strings.Join(got, "\n"))
			}
			for _, want := range tt.want {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
					t.Errorf("no finding %q in:\n%s", want, strings.Join(got, "\n"))
				}
			}
			if tt.want == nil && len(got) != 0 {
				t.Errorf("findings for a sound issuer:\n%s", strings.Join(got, "\n"))
			}
		})
	}
	r := w.run(t, "", "discover", "https://example.eu.auth0.com/")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing wrong found") {
		t.Fatalf("text output: %s", r.stdout)
	}
	if diff := cmp.Diff(2, w.run(t, "", "discover").code); diff != "" {
		t.Fatal("discover without an issuer must exit 2")
	}
}

// brokenIssuer serves metadata and keys with every fault discover reports.
func brokenIssuer(t *testing.T) http.Handler {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	n := func(k *rsa.PublicKey) string { return base64.RawURLEncoding.EncodeToString(k.N.Bytes()) }
	a, b := replica.NewKey(1, "x").Public(), replica.NewKey(2, "x").Public()
	keys := []map[string]any{
		{"kty": "RSA", "kid": "a", "n": n(&small.PublicKey), "e": "AQAB"},
		{"kty": "RSA", "kid": "dup", "n": n(a), "e": "AQAB"},
		{"kty": "RSA", "kid": "dup", "n": n(b), "e": "AQAB"},
		{"kty": "RSA", "n": n(a), "e": "AQAB"},
		{"kty": "EC", "kid": "p192", "crv": "P-192", "x": "AAAA", "y": "AAAA"},
		{"kty": "AKP", "kid": "pq-no-alg", "pub": "AAAA"},
		{"kty": "AKP", "kid": "pq-65", "alg": "ML-DSA-65", "pub": "AAAA"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": "https://broken.example.com/", "jwks_uri": "https://broken.example.com/keys",
				"introspection_endpoint": "http://broken.example.com/introspect"})
		case "/keys":
			json.NewEncoder(w).Encode(map[string]any{"keys": keys})
		default:
			http.NotFound(w, r)
		}
	})
}

// TestVersion: "accesstoken version" prints the module version from the
// build information; a build in a checkout has no tag ("(devel)" or a
// VCS-derived pseudo-version). The release's consumer test checks that an
// installed command prints its tag.
func TestVersion(t *testing.T) {
	w := &world{env: os.Environ()}
	r := w.run(t, "", "version")
	if r.code != 0 || !regexp.MustCompile(`^accesstoken (\(devel\)|v\d+\.\d+\.\d+\S*)\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := w.run(t, "", "version", "extra"); r.code != 2 || r.stdout != "" {
		t.Errorf("version with an argument: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := w.run(t, "", "help"); !strings.Contains(r.stdout, "version") {
		t.Errorf("usage does not list version: %q", r.stdout)
	}
}

// TestCheckJWKSFileRules: --jwks-file keys obey the rules of keys from a
// jwks_uri (one loader): a JWK's alg binds it, key_ops without "verify"
// keeps it from verifying, a ROCA-weak RSA key is refused.
func TestCheckJWKSFileRules(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	token := as.Token(map[string]any{"sub": "alice"}, accesstokentest.WithSigningKey("RS256", key), accesstokentest.WithKeyID("k1"))
	jwk := func(extra map[string]any) string {
		m := map[string]any{"kty": "RSA", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": "AQAB"}
		for k, v := range extra {
			m[k] = v
		}
		// A second, usable key: a set with no usable key at all is an
		// issuer that cannot be checked (exit 3), as from a jwks_uri.
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		doc, _ := json.Marshal(map[string]any{"keys": []any{m, map[string]any{"kty": "RSA", "kid": "k2",
			"n": base64.RawURLEncoding.EncodeToString(other.N.Bytes()), "e": "AQAB"}}})
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	w := &world{env: os.Environ()}
	for _, tt := range []struct {
		name  string
		extra map[string]any
		code  int
	}{
		{"no alg", nil, 0},
		{"alg RS256", map[string]any{"alg": "RS256"}, 0},
		{"labelled PS512", map[string]any{"alg": "PS512"}, 1},
		{"key_ops encrypt", map[string]any{"key_ops": []string{"encrypt"}}, 1},
		{"key_ops verify", map[string]any{"key_ops": []string{"verify"}}, 0},
		{"use enc", map[string]any{"use": "enc"}, 1},
	} {
		r := w.run(t, token, "check", "--issuer", as.Issuer(), "--audience", as.Audience(), "--jwks-file", jwk(tt.extra), "-")
		if r.code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tt.name, r.code, tt.code, r.stdout, r.stderr)
		}
	}
	if r := w.run(t, token, "check", "--issuer", as.Issuer(), "--audience", as.Audience(), "--jwks-file", filepath.Join(t.TempDir(), "none.json"), "-"); r.code != 2 {
		t.Errorf("a missing file: exit %d, want 2 (usage)\n%s", r.code, r.stderr)
	}
}

// TestTokenFromFile: a path to a file holding the token (as saved from a
// log or a curl command, with a scheme and a newline) is read, not taken
// for an opaque token; the verdict is the one of the same token on
// standard input.
func TestTokenFromFile(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	token := as.Token(map[string]any{"sub": "alice"})
	path := filepath.Join(t.TempDir(), "token.jwt")
	if err := os.WriteFile(path, []byte("Bearer "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &world{env: os.Environ()}
	args := []string{"check", "--issuer", as.Issuer(), "--audience", as.Audience()}
	fromFile := w.run(t, "", append(args, path)...)
	fromStdin := w.run(t, token, append(args, "-")...)
	if fromFile.code != 0 || !strings.HasPrefix(fromFile.stdout, "ACCEPTED") {
		t.Fatalf("check FILE: exit %d\n%s%s", fromFile.code, fromFile.stdout, fromFile.stderr)
	}
	// The lines but those with times relative to now are the same.
	strip := regexp.MustCompile(`\(.*(ago|from now|in )[^)]*\)`)
	if a, b := strip.ReplaceAllString(fromFile.stdout, ""), strip.ReplaceAllString(fromStdin.stdout, ""); a != b {
		t.Errorf("check FILE and check - differ:\n%s\n---\n%s", a, b)
	}
	if r := w.run(t, "", "inspect", path); r.code != 0 || strings.Contains(r.stdout, "opaque") || !strings.Contains(r.stdout, `"alice"`) {
		t.Errorf("inspect FILE: exit %d\n%s", r.code, r.stdout)
	}
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, []byte(strings.Repeat("a", 65<<10)), 0o600)
	if r := w.run(t, "", "inspect", big); r.code != 2 || !strings.Contains(r.stderr, "larger than 64 KiB") {
		t.Errorf("a file over 64 KiB: exit %d %q", r.code, r.stderr)
	}
}
