package mcpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/middleware/mcpauth"
)

// fixture: an authorization server from the test kit, a validator for it,
// and a real MCP server (the SDK's streamable HTTP handler) behind
// RequireBearerToken, on loopback.
type fixture struct {
	as   *accesstokentest.Server
	v    *accesstoken.Validator
	mcp  *httptest.Server
	down atomic.Bool

	mu   sync.Mutex
	seen []seen // what the tool saw, one per call
}

// seen is what one tool call saw of its caller.
type seen struct {
	subject   string // accesstoken.FromContext
	info      *auth.TokenInfo
	authz     string // the Authorization header the MCP server got
	hasClaims bool
}

const metadataURL = "https://mcp.example/.well-known/oauth-protected-resource/mcp"

func newFixture(t *testing.T, opts ...mcpauth.Option) *fixture {
	t.Helper()
	f := &fixture{}
	f.as = accesstokentest.NewServer(accesstokentest.WithHandler(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f.down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	t.Cleanup(f.as.Close)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: f.as.Issuer(), Audience: []string{f.as.Audience()}, StrictStart: true,
		DPoP: &accesstoken.DPoPConfig{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	f.v = v

	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Says who called."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			s := seen{info: req.Extra.TokenInfo, authz: req.Extra.Header.Get("Authorization")}
			if c, ok := accesstoken.FromContext(ctx); ok {
				s.hasClaims, s.subject = true, c.Subject
			}
			f.mu.Lock()
			f.seen = append(f.seen, s)
			f.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "you are " + s.subject}}}, nil, nil
		})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	opts = append([]mcpauth.Option{httpauth.WithResourceMetadata(metadataURL)}, opts...)
	f.mcp = httptest.NewServer(mcpauth.RequireBearerToken(v, opts...)(httpauth.RequireScopes("notes")(handler)))
	t.Cleanup(f.mcp.Close)
	return f
}

// recorder is an auth.OAuthHandler for the SDK's client: it supplies a
// fixed token and records the 401 or 403 the server answered instead of
// running an authorization flow.
type recorder struct {
	token  string
	status int
	header http.Header
	body   string
}

func (h *recorder) TokenSource(context.Context) (oauth2.TokenSource, error) {
	if h.token == "" {
		return nil, nil
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: h.token, TokenType: "Bearer"}), nil
}

func (h *recorder) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h.status, h.header, h.body = resp.StatusCode, resp.Header, string(b)
	return errors.New("authorization refused")
}

// connect opens an MCP session with the SDK's own client.
func (f *fixture) connect(t *testing.T, h *recorder) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: f.mcp.URL, OAuthHandler: h, MaxRetries: -1, HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}, nil)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func (f *fixture) callWhoami(t *testing.T, s *mcp.ClientSession) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("CallTool: %v", err)
	}
	if res.IsError || len(res.Content) != 1 {
		t.Fatalf("CallTool: %+v", res)
	}
	return res.Content[0].(*mcp.TextContent).Text
}

func TestSDKClient(t *testing.T) {
	f := newFixture(t)

	t.Run("no token", func(t *testing.T) {
		h := &recorder{}
		if _, err := f.connect(t, h); err == nil {
			t.Fatal("connected without a token")
		}
		want := `Bearer resource_metadata="` + metadataURL + `", DPoP algs="ES256 ES384 ES512 PS256 RS256 EdDSA Ed25519", resource_metadata="` + metadataURL + `"`
		if h.status != 401 || h.header.Get("WWW-Authenticate") != want {
			t.Fatalf("got %d %q, want 401 %q", h.status, h.header.Get("WWW-Authenticate"), want)
		}
		// The SDK's own parser finds the metadata URL in it, as its
		// authorization flow does.
		cs, err := oauthex.ParseWWWAuthenticate(h.header.Values("WWW-Authenticate"))
		if err != nil || len(cs) != 2 || cs[0].Scheme != "bearer" || cs[0].Params["resource_metadata"] != metadataURL {
			t.Fatalf("the SDK parsed %+v, %v", cs, err)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		h := &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "notes"}, accesstokentest.WithExpiry(-time.Hour))}
		if _, err := f.connect(t, h); err == nil {
			t.Fatal("connected with an expired token")
		}
		got := h.header.Get("WWW-Authenticate")
		if h.status != 401 || !strings.Contains(got, `error="invalid_token"`) || !strings.Contains(got, `resource_metadata="`+metadataURL+`"`) {
			t.Fatalf("got %d %q", h.status, got)
		}
	})

	t.Run("wrong scope", func(t *testing.T) {
		h := &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "profile"})}
		if _, err := f.connect(t, h); err == nil {
			t.Fatal("connected without the scope")
		}
		want := `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="notes", resource_metadata="` + metadataURL + `"`
		if h.status != 403 || h.header.Get("WWW-Authenticate") != want {
			t.Fatalf("got %d %q, want 403 %q", h.status, h.header.Get("WWW-Authenticate"), want)
		}
	})

	t.Run("good token", func(t *testing.T) {
		tok := f.as.Token(map[string]any{"sub": "ann", "scope": "notes profile", "tenant": "t1"})
		s, err := f.connect(t, &recorder{token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.callWhoami(t, s); got != "you are ann" {
			t.Fatalf("tool answered %q", got)
		}
		f.mu.Lock()
		got := f.seen[len(f.seen)-1]
		f.mu.Unlock()
		if !got.hasClaims || got.info == nil || got.info.UserID != "ann" ||
			!slices.Equal(got.info.Scopes, []string{"notes", "profile"}) || got.info.Extra["tenant"] != "t1" ||
			got.info.Extra["iss"] != f.as.Issuer() || got.info.Expiration.IsZero() || got.authz != "Bearer "+tok {
			t.Fatalf("the tool saw %+v (TokenInfo %+v)", got, got.info)
		}
	})
}

// The SDK binds a session to the UserID of the TokenInfo it was opened
// with: another user's token on that session is refused. That only works
// because RequireBearerToken hands the SDK its TokenInfo.
func TestSessionBoundToUser(t *testing.T) {
	f := newFixture(t)
	s, err := f.connect(t, &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "notes"})})
	if err != nil {
		t.Fatal(err)
	}
	post := func(sub string) int {
		body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
		req, _ := http.NewRequest("POST", f.mcp.URL, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.as.Token(map[string]any{"sub": sub, "scope": "notes"}))
		req.Header.Set("Mcp-Session-Id", s.ID())
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("bob"); got != http.StatusForbidden {
		t.Fatalf("bob on ann's session: %d, want 403", got)
	}
	if got := post("ann"); got != http.StatusOK {
		t.Fatalf("ann on her own session: %d, want 200", got)
	}
}

// When keys cannot be fetched the answer is 503 with no challenge, not the
// SDK's 500 with an error's text.
func TestIssuerDown(t *testing.T) {
	f := newFixture(t)
	f.down.Store(true)
	f.as.RotateKeys() // a kid the validator has never seen forces a fetch
	h := &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "notes"})}
	req, _ := http.NewRequest("POST", f.mcp.URL, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("WWW-Authenticate") != "" || strings.Contains(string(body), "kid") {
		t.Fatalf("got %d %q %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

// A DPoP-bound token reaches the tool through the SDK's middleware, which
// only knows Bearer, and the MCP server still sees the request as sent.
func TestDPoP(t *testing.T) {
	f := newFixture(t)
	key := accesstokentest.NewDPoPKey("ES256")
	tok := f.as.Token(map[string]any{"sub": "ann", "scope": "notes"}, accesstokentest.WithDPoPKey(key))
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`
	req, _ := http.NewRequest("POST", f.mcp.URL, strings.NewReader(body))
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", key.Proof("POST", f.mcp.URL, accesstokentest.WithAccessToken(tok)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" || !strings.Contains(string(b), `"serverInfo"`) {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}

	// The same token as a bearer token is refused: it is bound to the key.
	req, _ = http.NewRequest("POST", f.mcp.URL, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("DPoP-bound token as Bearer: %d", resp.StatusCode)
	}
}

// With httpauth.WithCredentialsOptional an anonymous request reaches the
// MCP server without claims or TokenInfo.
func TestCredentialsOptional(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var info *auth.TokenInfo
	var claims bool
	h := mcpauth.RequireBearerToken(v, httpauth.WithCredentialsOptional())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info = auth.TokenInfoFromContext(r.Context())
		_, claims = accesstoken.FromContext(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/mcp", nil))
	if rec.Code != 200 || info != nil || claims {
		t.Fatalf("anonymous: %d, TokenInfo %v, claims %v", rec.Code, info, claims)
	}
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+as.Token(map[string]any{"sub": "ann"}))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || info == nil || info.UserID != "ann" || !claims {
		t.Fatalf("with a token: %d, TokenInfo %+v, claims %v", rec.Code, info, claims)
	}
}

// Verifier behind the SDK's own auth.RequireBearerToken.
func TestVerifier(t *testing.T) {
	f := newFixture(t)
	verify := mcpauth.Verifier(f.v)

	info, err := verify(context.Background(), f.as.Token(map[string]any{"sub": "ann", "scope": "a b"}), nil)
	if err != nil || info.UserID != "ann" || !slices.Equal(info.Scopes, []string{"a", "b"}) || info.Extra["sub"] != "ann" {
		t.Fatalf("good token: %+v, %v", info, err)
	}

	_, err = verify(context.Background(), f.as.Token(nil, accesstokentest.WithExpiry(-time.Hour)), nil)
	if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, accesstoken.ErrTokenExpired) || err.Error() != "invalid token" {
		t.Fatalf("expired token: %v", err)
	}

	// Through the SDK's middleware: 401 "invalid token" for a bad token,
	// and 500 with a fixed text (the SDK's choice for other errors) when the
	// issuer is down, never "invalid token" for a token that may be good.
	sdk := httptest.NewServer(auth.RequireBearerToken(verify, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, auth.TokenInfoFromContext(r.Context()).UserID)
	})))
	defer sdk.Close()
	call := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", sdk.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := call(f.as.Token(map[string]any{"sub": "ann"})); code != 200 || body != "ann" {
		t.Fatalf("good token: %d %q", code, body)
	}
	if code, body := call("not-a-token"); code != 401 || body != "invalid token" {
		t.Fatalf("bad token: %d %q", code, body)
	}
	f.down.Store(true)
	f.as.RotateKeys()
	if code, body := call(f.as.Token(map[string]any{"sub": "ann"})); code != 500 || body != "token validation unavailable" {
		t.Fatalf("issuer down: %d %q", code, body)
	}
}

// Under a MultiIssuer, UserID names the issuer as well as the subject: the
// same "sub" at two issuers is two users.
func TestVerifierMultiIssuer(t *testing.T) {
	a, b := accesstokentest.NewServer(), accesstokentest.NewServer()
	defer a.Close()
	defer b.Close()
	m, err := accesstoken.NewMultiIssuer(context.Background(), accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{
		{Issuer: a.Issuer(), Audience: []string{a.Audience()}},
		{Issuer: b.Issuer(), Audience: []string{b.Audience()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	verify := mcpauth.Verifier(m)
	ia, err := verify(context.Background(), a.Token(map[string]any{"sub": "ann"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := verify(context.Background(), b.Token(map[string]any{"sub": "ann"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ia.UserID != a.Issuer()+" ann" || ib.UserID != b.Issuer()+" ann" {
		t.Fatalf("UserIDs %q and %q", ia.UserID, ib.UserID)
	}
}

// TestOperationScopesSDK: per-tool scopes with the SDK's own client: a
// session opens with the server's scope, a tool call without the tool's
// scope is 403 naming it, with it the tool runs; a body whose Mcp-Name
// header names another tool never reaches a tool, whatever protocol
// version the client claims.
func TestOperationScopesSDK(t *testing.T) {
	f := newFixture(t, mcpauth.WithOperationScopes("tools/call", "whoami", "whoami:call"))

	h := &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "notes"})}
	s, err := f.connect(t, h)
	if err != nil {
		t.Fatalf("initialize needs only the server's scope: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err == nil {
		t.Fatal("the tool ran without its scope")
	}
	want := `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="whoami:call", resource_metadata="` + metadataURL + `"`
	if h.status != 403 || h.header.Get("WWW-Authenticate") != want {
		t.Fatalf("got %d %q, want 403 %q", h.status, h.header.Get("WWW-Authenticate"), want)
	}
	f.mu.Lock()
	ran := len(f.seen)
	f.mu.Unlock()
	if ran != 0 {
		t.Fatal("the tool ran")
	}

	s2, err := f.connect(t, &recorder{token: f.as.Token(map[string]any{"sub": "ann", "scope": "notes whoami:call"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.callWhoami(t, s2); got != "you are ann" {
		t.Fatalf("tool answered %q", got)
	}

	for _, version := range []string{"2026-07-28", "2025-06-18", ""} {
		body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
		r, _ := http.NewRequest("POST", f.mcp.URL, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+f.as.Token(map[string]any{"sub": "ann", "scope": "notes"}))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Mcp-Method", "tools/call")
		r.Header.Set("Mcp-Name", "echo")
		if version != "" {
			r.Header.Set("Mcp-Protocol-Version", version)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"code":-32020`) || !strings.Contains(string(b), `"id":9`) {
			t.Errorf("protocol %q: a mismatched Mcp-Name got %d %s", version, resp.StatusCode, b)
		}
	}
	f.mu.Lock()
	ran = len(f.seen)
	f.mu.Unlock()
	if ran != 1 {
		t.Fatalf("tools ran %d times, want 1 (the permitted call)", ran)
	}
}
