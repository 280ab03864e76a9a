package mcpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/middleware/mcpauth"
)

// An MCP server whose tools need the "notes" scope, with its RFC 9728
// metadata, called by the SDK's own client.
func ExampleRequireBearerToken() {
	as := accesstokentest.NewServer() // the authorization server
	defer as.Close()
	ctx := context.Background()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		claims, _ := accesstoken.FromContext(ctx)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "you are " + claims.Subject}}}, nil, nil
	})

	const resource = "https://mcp.example/mcp" // where clients reach the server
	metadata := accesstoken.ResourceMetadata{
		Resource:             resource,
		AuthorizationServers: []string{as.Issuer()},
		ScopesSupported:      []string{"notes"},
	}
	metadataURL, err := accesstoken.ResourceMetadataURL(resource)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/mcp", httpauth.ResourceMetadataHandler(metadata))
	mux.Handle("/mcp", mcpauth.RequireBearerToken(v, httpauth.WithResourceMetadata(metadataURL))(httpauth.RequireScopes("notes")(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The SDK's client, with a token from the authorization server.
	token := as.Token(map[string]any{"sub": "ann", "scope": "notes"})
	client := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport(token)},
	}, nil)
	if err != nil {
		panic(err)
	}
	defer session.Close()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output: you are ann
}

// bearerTransport sends every request with the token.
type bearerTransport string

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(t))
	return http.DefaultTransport.RoundTrip(r)
}

// Verifier plugs the validator into the SDK's own middleware.
func ExampleVerifier() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	h := auth.RequireBearerToken(mcpauth.Verifier(v), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := auth.TokenInfoFromContext(r.Context())
		fmt.Fprintln(w, info.UserID, info.Scopes)
	}))
	for _, token := range []string{as.Token(map[string]any{"sub": "ann", "scope": "notes"}), "forged"} {
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 ann [notes]
	// 401 invalid token
}
