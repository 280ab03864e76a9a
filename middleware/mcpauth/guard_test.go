package mcpauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/middleware/mcpauth"
)

// A session's streams end when its token is revoked on another replica: the
// SDK's client, waiting on a long tool call, gets an error within the
// list's bound instead of waiting on; opted out, it waits.
func TestStreamGuard(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	store := accesstoken.NewMemoryStore()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		Revocations: accesstoken.NewRevocations(store),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ended := make(chan string, 4)
	server := mcp.NewServer(&mcp.Implementation{Name: "waiter", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "wait", Description: "Waits until its request ends."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			select {
			case <-ctx.Done():
				var e *accesstoken.Error
				reason := context.Cause(ctx).Error()
				if errors.As(context.Cause(ctx), &e) {
					reason = e.Description
				}
				ended <- reason
				return nil, nil, errors.New(reason)
			case <-time.After(10 * time.Second):
				ended <- "not ended"
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "waited"}}}, nil, nil
			}
		})
	for _, tc := range []struct {
		name      string
		opts      []mcpauth.Option
		stateless bool
		jti       string
		reason    string // what the tool's context ends with; "" when it does not end
		ends      bool   // whether the client's call ends before its 3 s
	}{
		// The session's streams end (the GET event stream and the POST
		// answered as a stream), and so does the client's call. The SDK
		// does not cancel a call whose HTTP request went away (MCP treats a
		// disconnect as no cancellation): the tool itself runs on.
		{"guarded", nil, false, "call-1", "", true},
		{"opted out", []mcpauth.Option{httpauth.WithoutStreamGuard()}, false, "call-3", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: tc.stateless})
			srv := httptest.NewServer(mcpauth.RequireBearerToken(v, tc.opts...)(handler))
			defer srv.Close()
			token := as.Token(map[string]any{"sub": "ann", "jti": tc.jti})
			client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			s, err := client.Connect(ctx, &mcp.StreamableClientTransport{
				Endpoint: srv.URL, OAuthHandler: &recorder{token: token}, MaxRetries: -1,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			go func() {
				time.Sleep(500 * time.Millisecond)
				accesstoken.NewRevocations(store).RevokeToken(context.Background(), tc.jti, time.Now().Add(time.Hour))
			}()
			start := time.Now()
			callCtx, callCancel := context.WithTimeout(ctx, 3*time.Second)
			defer callCancel()
			res, err := s.CallTool(callCtx, &mcp.CallToolParams{Name: "wait"})
			took := time.Since(start)
			t.Logf("CallTool: %v, %+v after %v", err, res, took)
			if !tc.ends {
				if err == nil || took < 2900*time.Millisecond {
					t.Fatalf("opted out: %v, %+v after %v", err, res, took)
				}
				return
			}
			if took > 2500*time.Millisecond {
				t.Fatalf("the client waited %v", took)
			}
			if err == nil && !(res.IsError && strings.Contains(res.Content[0].(*mcp.TextContent).Text, "revoked")) {
				t.Fatalf("the call succeeded: %+v", res)
			}
			if tc.reason != "" {
				select {
				case reason := <-ended:
					if reason != tc.reason {
						t.Fatalf("the tool's context ended with %q", reason)
					}
				case <-time.After(3 * time.Second):
					t.Fatal("the tool's context did not end")
				}
			}
		})
	}
}
