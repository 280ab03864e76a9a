package httpauth_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

// TestConformance runs the table every adapter runs, over real HTTP.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				claims, _ := accesstoken.FromContext(r.Context())
				io.WriteString(w, claims.Subject)
			})
			var protected http.Handler = handler
			if c.Roles != nil {
				protected = httpauth.RequireRoles(c.Roles...)(protected)
			}
			if c.Authentication != nil {
				protected = httpauth.RequireAuthentication(*c.Authentication)(protected)
			}
			opts := []httpauth.Option{httpauth.WithRealm(conformance.Realm), httpauth.WithResourceMetadata(c.ResourceMetadata)}
			if c.TokenHeader != "" {
				opts = append(opts, httpauth.WithTokenHeader(c.TokenHeader))
			}
			srv := httptest.NewUnstartedServer(httpauth.Middleware(c.Validator, opts...)(
				httpauth.RequireScopes(conformance.Scope)(protected)))
			client := http.DefaultClient
			if c.TLS != nil {
				srv.TLS = c.TLS.Server.Clone()
				srv.StartTLS()
				client = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS.Client.Clone()}}
			} else {
				srv.Start()
			}
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			c.SetHeaders(req.Header)
			if c.Proof != nil {
				req.Header.Set("DPoP", c.Proof("GET", srv.URL+"/"))
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.Status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.Status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != c.Challenge {
				t.Fatalf("challenge %q, want %q", got, c.Challenge)
			}
			if got := resp.Header.Get("DPoP-Nonce"); (got != "") != c.Nonce {
				t.Fatalf("DPoP-Nonce %q, want one: %v", got, c.Nonce)
			}
			if c.Sentinel == nil && string(body) != c.Subject {
				t.Fatalf("handler saw subject %q, want %q", body, c.Subject)
			}
		})
	}
}
