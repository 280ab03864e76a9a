package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/middleware/mcpauth"
	"github.com/tokenguard/accesstoken/operation"
)

// mcpNode is Node 22 and the npm packages of interop/mcp (package-lock.json),
// installed by interop/oidc-provider/run.sh; the test is skipped without
// them, and fails in CI.
func mcpNode(t *testing.T) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs("mcp")
	node = filepath.Join(dir, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("interop/mcp/node_modules is missing: in CI these tests run through interop/oidc-provider/run.sh, which installs it")
		}
		t.Skip("interop/mcp/node_modules is missing: run (cd interop/mcp && npm ci)")
	}
	return node, dir
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startEverythingServer builds and starts the Go SDK's own conformance
// server (go-sdk's conformance/everything-server, at the version mcpauth
// requires: a tool of this module), in its stateless mode, on loopback.
// It is stopped by its PID when the test ends.
func startEverythingServer(t *testing.T) *url.URL {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "everything-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Go SDK's conformance server: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	var log bytes.Buffer
	cmd := exec.Command(bin, "-http", addr)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	base := &url.URL{Scheme: "http", Host: addr, Path: "/"}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get(base.String())
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("the conformance server did not answer: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMCPConformance runs the MCP conformance runner's server scenarios
// (@modelcontextprotocol/conformance, every suite at protocol 2026-07-28)
// against the Go SDK's conformance server, which is reachable only through
// mcpauth.RequireBearerToken with a scope hierarchy and per-operation
// rules. The runner has no way to send a token, so the front of the chain
// adds one, as a client holding a credential would: mcpauth then validates
// it, peeks at every body, applies the rules and cross-checks the
// Mcp-Method and Mcp-Name headers before the SDK sees anything. The
// runner's own pass/fail decides, and the answers to its header-mismatch
// probes must be mcpauth's.
func TestMCPConformance(t *testing.T) {
	node, dir := mcpNode(t)
	target := startEverythingServer(t)

	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{
			"mcp:all": {"mcp", "tools", "tools:media", "resources", "prompts"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	protect := mcpauth.RequireBearerToken(v,
		httpauth.WithRequiredScopes("mcp"),
		mcpauth.WithOperationScopes("tools/call", "", "tools"),
		mcpauth.WithOperationScopes("tools/call", "test_image_content", "tools:media"),
		mcpauth.WithOperationScopes("tools/call", "test_audio_content", "tools:media"),
		mcpauth.WithOperationScopes("resources/read", "test://{+path}", "resources"),
		mcpauth.WithOperationScopes("prompts/get", "", "prompts"),
	)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the SDK's DNS-rebinding check sees the client's Host
		},
		FlushInterval: -1,
	}
	run := func(t *testing.T, token string, args ...string) (int, map[string][]check) {
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token)
			protect(proxy).ServeHTTP(w, r)
		}))
		defer front.Close()
		out := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "node_modules/@modelcontextprotocol/conformance/dist/index.js"),
			"server", "--url", front.URL + "/", "-o", out}, args...)...)
		cmd.Dir = t.TempDir()
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		code := 0
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				t.Fatalf("running the conformance runner: %v\n%s", err, log.String())
			}
		}
		results := readChecks(t, out)
		if len(results) == 0 {
			t.Fatalf("the runner wrote no results:\n%s", log.String())
		}
		t.Logf("runner %v: exit %d\n%s", args, code, summary(results))
		if code != 0 && !t.Failed() {
			t.Logf("runner output:\n%s", tail(log.String(), 4000))
		}
		return code, results
	}

	token := as.Token(map[string]any{"scope": "mcp:all"}, accesstokentest.WithAlgorithm("ES256"))
	code, results := run(t, token, "--suite", "all", "--spec-version", "2026-07-28")
	if code != 0 {
		t.Errorf("the runner failed (exit %d)", code)
	}
	if len(results) < 40 {
		t.Errorf("%d scenarios ran, want the runner's 50 or so", len(results))
	}
	// The header-mismatch probes were answered by mcpauth, not by the SDK.
	headers := results["http-header-validation"]
	ours := 0
	for _, c := range headers {
		if c.Status != "SUCCESS" {
			t.Errorf("http-header-validation: %s %s", c.ID, c.Status)
		}
		if strings.Contains(string(c.Details), "does not match the body") {
			ours++
		}
	}
	if len(headers) == 0 || ours == 0 {
		t.Errorf("http-header-validation: %d checks, %d answered by mcpauth", len(headers), ours)
	}

	// A token without the tool's scope: the runner's tool scenario fails
	// (403 from mcpauth), the rest still pass.
	narrow := as.Token(map[string]any{"scope": "mcp tools"}, accesstokentest.WithAlgorithm("ES256"))
	if code, results := run(t, narrow, "--scenario", "tools-call-image", "--spec-version", "2026-07-28"); code == 0 || passed(results["tools-call-image"]) {
		t.Errorf("tools-call-image passed with a token lacking tools:media")
	}
	if code, _ := run(t, narrow, "--scenario", "tools-call-simple-text", "--spec-version", "2026-07-28"); code != 0 {
		t.Errorf("tools-call-simple-text failed with a token holding tools")
	}
}

type check struct {
	ID      string          `json:"id"`
	Status  string          `json:"status"`
	Details json.RawMessage `json:"details"`
}

var resultDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T`)

// readChecks reads the runner's checks.json files: scenario → checks.
func readChecks(t *testing.T, out string) map[string][]check {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]check{}
	for _, e := range entries {
		m := resultDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, e.Name(), "checks.json"))
		if err != nil {
			t.Fatal(err)
		}
		var checks []check
		if err := json.Unmarshal(b, &checks); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		results[m[1]] = append(results[m[1]], checks...)
	}
	return results
}

func passed(checks []check) bool {
	for _, c := range checks {
		if c.Status == "FAILURE" {
			return false
		}
	}
	return len(checks) > 0
}

func summary(results map[string][]check) string {
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		counts := map[string]int{}
		for _, c := range results[n] {
			counts[c.Status]++
		}
		fmt.Fprintf(&b, "  %-48s %d passed, %d failed, %d other\n", n, counts["SUCCESS"], counts["FAILURE"], len(results[n])-counts["SUCCESS"]-counts["FAILURE"])
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// testMCPStepUp, a step of TestInterop (which stops oidc-provider last):
// the TypeScript MCP SDK's client, with its own OAuth flow (authorization
// code with PKCE at oidc-provider, stepup.mjs playing the user's browser),
// against a Go SDK server protected by mcpauth. Each tool needs more scopes
// than the last; every first call gets one 403 whose challenge names all
// the scopes that tool needs, the SDK asks oidc-provider for exactly those,
// and the call is retried once and runs. A token holding repo:admin then
// calls the repo:read tool without a step-up (ScopeImplies).
func (s *server) testMCPStepUp(t *testing.T) {
	node, dir := mcpNode(t)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + lis.Addr().String()
	resource := base + "/mcp"
	metadataURL, err := accesstoken.ResourceMetadataURL(resource)
	if err != nil {
		t.Fatal(err)
	}
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: s.issuer, Audience: []string{resource},
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{"repo:admin": {"repo:read"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	var mu sync.Mutex
	var ran []string
	server := mcp.NewServer(&mcp.Implementation{Name: "repos", Version: "1.0.0"}, nil)
	for _, name := range []string{"search", "read_repo", "delete_repo"} {
		server.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				mu.Lock()
				ran = append(ran, name)
				mu.Unlock()
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran " + name}}}, nil
			})
	}
	protect := mcpauth.RequireBearerToken(v,
		httpauth.WithResourceMetadata(metadataURL),
		httpauth.WithRequiredScopes("mcp"),
		mcpauth.WithOperationScopes("tools/call", "", "tools"),
		mcpauth.WithOperationScopes("tools/call", "read_repo", "repo:read"),
		mcpauth.WithOperationScopes("tools/call", "delete_repo", "repo:admin"),
	)
	type exchange struct {
		op        string // method, and the tool of a tools/call
		status    int
		challenge string
	}
	var seen []exchange
	protected := protect(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	mux := http.NewServeMux()
	mux.Handle(strings.TrimPrefix(metadataURL, base), httpauth.ResourceMetadataHandler(accesstoken.ResourceMetadata{
		Resource: resource, AuthorizationServers: []string{s.issuer}, ScopesSupported: []string{"mcp", "tools", "repo:read", "repo:admin"},
	}))
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		op := r.Method
		if parsed, err := operation.Parse(body); err == nil && parsed.Method != "" {
			op = strings.TrimSpace(parsed.Method + " " + parsed.Name)
		}
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		protected.ServeHTTP(rec, r)
		mu.Lock()
		seen = append(seen, exchange{op, rec.status, rec.Header().Get("WWW-Authenticate")})
		mu.Unlock()
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "stepup.mjs"), resource, s.issuer, "mcp-app", "http://127.0.0.1/callback",
		"search", "read_repo", "delete_repo", "read_repo")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		mu.Lock()
		for _, e := range seen {
			t.Logf("%-24s %d %s", e.op, e.status, e.challenge)
		}
		mu.Unlock()
		t.Fatalf("the TypeScript client failed: %v\n%s", err, out)
	}
	var results, authorizations []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Tool           string
			OK             bool
			Text           string
			Error          string
			Authorizations []string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("client output %q: %v\n%s", line, err, out)
		}
		if r.Authorizations != nil {
			authorizations = r.Authorizations
			continue
		}
		if !r.OK || r.Text != "ran "+r.Tool {
			t.Errorf("%s: %+v", r.Tool, r)
		}
		results = append(results, r.Tool)
	}
	if want := []string{"search", "read_repo", "delete_repo", "read_repo"}; !slices.Equal(results, want) || !slices.Equal(ran, want) {
		t.Errorf("client saw %q, tools ran %q, want %q", results, ran, want)
	}
	// The scope of each authorization request the SDK made: what each
	// challenge named, all at once.
	if want := []string{"mcp", "mcp tools", "mcp tools repo:read", "mcp tools repo:admin"}; !slices.Equal(authorizations, want) {
		t.Errorf("the SDK asked for %q, want %q", authorizations, want)
	}

	mu.Lock()
	defer mu.Unlock()
	var calls []string
	for _, e := range seen {
		t.Logf("%-24s %d %s", e.op, e.status, e.challenge)
		if strings.HasPrefix(e.op, "tools/call") || e.status == 401 {
			calls = append(calls, fmt.Sprintf("%s %d %s", e.op, e.status, scopeOf(e.challenge)))
		}
	}
	want := []string{
		`initialize 401 mcp`,
		`tools/call search 403 mcp tools`,
		`tools/call search 200 `,
		`tools/call read_repo 403 mcp tools repo:read`,
		`tools/call read_repo 200 `,
		`tools/call delete_repo 403 mcp tools repo:admin`,
		`tools/call delete_repo 200 `,
		`tools/call read_repo 200 `, // repo:admin implies repo:read: no step-up
	}
	if !slices.Equal(calls, want) {
		t.Errorf("exchanges:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range seen {
		if e.status == 403 && !strings.Contains(e.challenge, `error="insufficient_scope"`) || (e.status == 401 || e.status == 403) && !strings.Contains(e.challenge, `resource_metadata="`+metadataURL+`"`) {
			t.Errorf("challenge %q", e.challenge)
		}
	}
}

var scopeAttr = regexp.MustCompile(`scope="([^"]*)"`)

func scopeOf(challenge string) string {
	if m := scopeAttr.FindStringSubmatch(challenge); m != nil {
		return m[1]
	}
	return ""
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
