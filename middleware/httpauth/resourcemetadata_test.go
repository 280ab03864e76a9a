package httpauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func TestResourceMetadataHandler(t *testing.T) {
	m := accesstoken.ResourceMetadata{Resource: "http://127.0.0.1/orders", AuthorizationServers: []string{"https://as.example.com"},
		ScopesSupported: []string{"orders:read"}, BearerMethodsSupported: []string{"header"}}
	path, err := accesstoken.ResourceMetadataURL(m.Resource)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/orders", httpauth.ResourceMetadataHandler(m))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if path != "http://127.0.0.1/.well-known/oauth-protected-resource/orders" {
		t.Fatalf("URL %q", path)
	}
	url := srv.URL + "/.well-known/oauth-protected-resource/orders"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"resource": "http://127.0.0.1/orders", "authorization_servers": []any{"https://as.example.com"},
		"scopes_supported": []any{"orders:read"}, "bearer_methods_supported": []any{"header"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"} {
		if resp.Header.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, resp.Header.Get(k), v)
		}
	}
	for method, status := range map[string]int{"HEAD": 200, "OPTIONS": 204, "POST": 405, "DELETE": 405} {
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", method, resp.StatusCode, status)
		}
	}
	for name, bad := range map[string]accesstoken.ResourceMetadata{
		"no resource":  {},
		"http":         {Resource: "http://api.example.com"},
		"bad issuer":   {Resource: "https://api.example.com", AuthorizationServers: []string{"issuer"}},
		"bearer: form": {Resource: "https://api.example.com", BearerMethodsSupported: []string{"form"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			httpauth.ResourceMetadataHandler(bad)
		}()
	}
}
