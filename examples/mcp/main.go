// Command mcp is an MCP server (the official Go SDK's streamable HTTP
// handler) protected as the MCP authorization spec asks, all on loopback:
// its tools need the "notes" scope, its RFC 9728 metadata names the
// authorization server (the test kit, given an authorization endpoint with
// PKCE for the demo), and every rejection points there. It then plays three
// callers with the SDK's own client: one without a token, one whose token
// lacks the scope, and one that runs the SDK's authorization-code flow from
// the 401 alone (metadata discovery, PKCE, the resource parameter) and then
// calls the tool, which sees who called.
//
//	go run ./examples/mcp
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
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

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// The demo's one registered client, a native app with a loopback redirect.
const (
	clientID    = "notes-cli"
	redirectURL = "http://127.0.0.1:8085/callback"
)

func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The MCP server's address must be known before its metadata and the
	// validator's audience: the resource URL is both.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resource := srv.URL + "/mcp"

	codes := &codeGrants{grants: map[string]grant{}}
	as := accesstokentest.NewServer(accesstokentest.WithHandler(codes.wrap))
	defer as.Close()
	codes.as = as

	// The MCP spec wants tokens issued for this server: its URL is the
	// audience (RFC 8707 resource indicators).
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{resource}, StrictStart: true})
	if err != nil {
		return err
	}
	defer v.Close()

	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Tells the caller who the server thinks they are."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			claims, _ := accesstoken.FromContext(ctx)
			text := fmt.Sprintf("you are %s (scopes %s, MCP user %s)", claims.Subject, strings.Join(claims.Scopes, " "), req.Extra.TokenInfo.UserID)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})

	metadataURL, err := accesstoken.ResourceMetadataURL(resource)
	if err != nil {
		return err
	}
	metadataPath, _ := url.Parse(metadataURL)
	mux.Handle(metadataPath.Path, httpauth.ResourceMetadataHandler(accesstoken.ResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{as.Issuer()},
		ScopesSupported:      []string{"notes"},
		ResourceName:         "Notes MCP server",
	}))
	mux.Handle("/mcp", mcpauth.RequireBearerToken(v, httpauth.WithResourceMetadata(metadataURL))(
		httpauth.RequireScopes("notes")(
			mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))))

	connect := func(h auth.OAuthHandler) (*mcp.ClientSession, error) {
		client := mcp.NewClient(&mcp.Implementation{Name: clientID, Version: "1.0.0"}, nil)
		return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, OAuthHandler: h, MaxRetries: -1}, nil)
	}

	// 1. No token: 401, and the challenge says where to learn more.
	anon := &refusal{}
	if _, err := connect(anon); err == nil {
		return errors.New("connected without a token")
	}
	fmt.Fprintf(out, "no token: %d %s\n", anon.status, anon.challenge)
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, anon.param("resource_metadata"), resource, http.DefaultClient)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "its metadata: resource %s, authorization server %s, scopes %v\n", prm.Resource, prm.AuthorizationServers[0], prm.ScopesSupported)

	// 2. A token for the server without the "notes" scope: 403, with the
	// scope to ask for.
	narrow := &refusal{token: as.Token(map[string]any{"sub": "bob", "scope": "profile", "aud": resource})}
	if _, err := connect(narrow); err == nil {
		return errors.New("connected without the scope")
	}
	fmt.Fprintf(out, "token without notes: %d %s\n", narrow.status, narrow.challenge)

	// 3. The SDK's authorization-code flow, started by the 401: it reads the
	// metadata, finds the authorization server, asks it for the scopes the
	// metadata lists, for this resource, with PKCE.
	flow, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:      &oauthex.ClientCredentials{ClientID: clientID},
		RedirectURL:              redirectURL,
		AuthorizationCodeFetcher: codes.consent(out),
	})
	if err != nil {
		return err
	}
	session, err := connect(flow)
	if err != nil {
		return err
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) != 1 {
		return fmt.Errorf("whoami failed: %+v", res)
	}
	fmt.Fprintf(out, "whoami: %s\n", res.Content[0].(*mcp.TextContent).Text)
	return nil
}

// refusal is an auth.OAuthHandler for the SDK's client that sends a fixed
// token (or none) and, instead of authorizing, records the refusal.
type refusal struct {
	token     string
	status    int
	challenge string
}

func (r *refusal) TokenSource(context.Context) (oauth2.TokenSource, error) {
	if r.token == "" {
		return nil, nil
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: r.token}), nil
}

func (r *refusal) Authorize(_ context.Context, _ *http.Request, resp *http.Response) error {
	resp.Body.Close()
	r.status, r.challenge = resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	return errors.New("not authorizing")
}

// param is an attribute of the recorded Bearer challenge, as the SDK's
// client parses it.
func (r *refusal) param(name string) string {
	cs, err := oauthex.ParseWWWAuthenticate([]string{r.challenge})
	if err != nil || len(cs) == 0 {
		return ""
	}
	return cs[0].Params[name]
}

// codeGrants gives the test kit's authorization server what the demo needs
// of a real one: an authorization endpoint that logs in "ann" at once (no
// login page in a demo), a token endpoint for the code with PKCE (S256), and
// both in its RFC 8414 metadata. A real deployment uses a real
// authorization server.
type codeGrants struct {
	as     *accesstokentest.Server
	mu     sync.Mutex
	grants map[string]grant // by code; each used once
}

type grant struct {
	challenge, scope, resource string
	expires                    time.Time
}

var grantedScopes = []string{"notes", "profile"}

func (g *codeGrants) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var meta map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil {
				http.Error(w, "bad metadata", http.StatusInternalServerError)
				return
			}
			meta["authorization_endpoint"] = g.as.Issuer() + "/authorize"
			meta["token_endpoint"] = g.as.Issuer() + "/token"
			meta["response_types_supported"] = []string{"code"}
			meta["grant_types_supported"] = []string{"authorization_code"}
			meta["code_challenge_methods_supported"] = []string{"S256"}
			meta["token_endpoint_auth_methods_supported"] = []string{"none"}
			meta["scopes_supported"] = grantedScopes
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(meta)
		case "/authorize":
			g.authorize(w, r)
		case "/token":
			g.token(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (g *codeGrants) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != clientID || q.Get("redirect_uri") != redirectURL ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("resource") == "" {
		http.Error(w, "invalid_request", http.StatusBadRequest)
		return
	}
	var scopes []string
	for _, s := range strings.Fields(q.Get("scope")) {
		if slices.Contains(grantedScopes, s) {
			scopes = append(scopes, s)
		}
	}
	code := rand.Text()
	g.mu.Lock()
	g.grants[code] = grant{challenge: q.Get("code_challenge"), scope: strings.Join(scopes, " "), resource: q.Get("resource"), expires: time.Now().Add(time.Minute)}
	g.mu.Unlock()
	http.Redirect(w, r, redirectURL+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

func (g *codeGrants) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	gr, ok := g.grants[r.PostForm.Get("code")]
	delete(g.grants, r.PostForm.Get("code"))
	g.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || time.Now().After(gr.expires) || base64.RawURLEncoding.EncodeToString(sum[:]) != gr.challenge ||
		r.PostForm.Get("redirect_uri") != redirectURL || r.PostForm.Get("resource") != gr.resource {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	token := g.as.Token(map[string]any{"sub": "ann", "client_id": clientID, "scope": gr.scope, "aud": gr.resource}, accesstokentest.WithExpiry(10*time.Minute))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 600, "scope": gr.scope})
}

// consent is the SDK's AuthorizationCodeFetcher: where a real client opens
// the browser and waits for the redirect, the demo follows the
// authorization URL itself and reads the code from the redirect.
func (g *codeGrants) consent(out io.Writer) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		u, err := url.Parse(args.URL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		fmt.Fprintf(out, "the SDK's client asks %s for scope %q, resource %s, PKCE %s\n",
			u.Scheme+"://"+u.Host+u.Path, q.Get("scope"), q.Get("resource"), q.Get("code_challenge_method"))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, args.URL, nil)
		if err != nil {
			return nil, err
		}
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
			return nil, fmt.Errorf("authorization refused: %d", resp.StatusCode)
		}
		return &auth.AuthorizationResult{Code: loc.Query().Get("code"), State: loc.Query().Get("state")}, nil
	}
}
