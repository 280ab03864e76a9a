package echoauth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/echoauth"
)

func subject(c echo.Context) error {
	claims, ok := accesstoken.FromContext(c.Request().Context())
	if !ok {
		return c.String(http.StatusOK, "(anonymous)")
	}
	return c.String(http.StatusOK, claims.Subject)
}

func get(t *testing.T, url string, header http.Header) (int, string, string) {
	t.Helper()
	return getWith(t, http.DefaultClient, url, header)
}

func getWith(t *testing.T, client *http.Client, url string, header http.Header) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	lastNonce = resp.Header.Get("DPoP-Nonce")
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

// lastNonce is the DPoP-Nonce header of the last answer get saw; the tests
// of this package do not run in parallel.
var lastNonce string

// TestConformance runs the table every adapter runs, over real HTTP.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			e := echo.New()
			var seen error
			e.HTTPErrorHandler = func(err error, ec echo.Context) {
				seen = err
				e.DefaultHTTPErrorHandler(err, ec)
			}
			opts := []echoauth.Option{echoauth.WithRealm(conformance.Realm), echoauth.WithResourceMetadata(c.ResourceMetadata)}
			if c.TokenHeader != "" {
				opts = append(opts, echoauth.WithTokenHeader(c.TokenHeader))
			}
			e.Use(echoauth.Middleware(c.Validator, opts...))
			route := []echo.MiddlewareFunc{echoauth.RequireScopes(conformance.Scope)}
			if c.Roles != nil {
				route = append(route, echoauth.RequireRoles(c.Roles...))
			}
			if c.Authentication != nil {
				route = append(route, echoauth.RequireAuthentication(*c.Authentication))
			}
			e.GET("/orders", subject, route...)
			srv := httptest.NewUnstartedServer(e)
			client := http.DefaultClient
			if c.TLS != nil {
				srv.TLS = c.TLS.Server.Clone()
				srv.StartTLS()
				client = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS.Client.Clone()}}
			} else {
				srv.Start()
			}
			defer srv.Close()
			header := http.Header{}
			c.SetHeaders(header)
			if c.Proof != nil {
				header.Set("DPoP", c.Proof("GET", srv.URL+"/orders"))
			}
			status, challenge, body := getWith(t, client, srv.URL+"/orders", header)
			if status != c.Status || challenge != c.Challenge {
				t.Fatalf("got %d %q, want %d %q", status, challenge, c.Status, c.Challenge)
			}
			if got := lastNonce; (got != "") != c.Nonce {
				t.Fatalf("DPoP-Nonce %q, want one: %v", got, c.Nonce)
			}
			if c.Sentinel == nil {
				if body != c.Subject {
					t.Fatalf("handler saw %q, want %q", body, c.Subject)
				}
				return
			}
			// The echo error carries the accesstoken error for logging.
			if !errors.Is(seen, c.Sentinel) {
				t.Fatalf("echo error %v does not match %v", seen, c.Sentinel)
			}
		})
	}
}

func TestSkipperAndOptional(t *testing.T) {
	cases := conformance.Cases(t)
	valid := cases[0]
	e := echo.New()
	e.Use(echoauth.Middleware(valid.Validator,
		echoauth.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" })))
	e.GET("/healthz", subject)
	e.GET("/orders", subject)
	srv := httptest.NewServer(e)
	defer srv.Close()
	if status, _, body := get(t, srv.URL+"/healthz", http.Header{}); status != 200 || body != "(anonymous)" {
		t.Errorf("skipped route: %d %q", status, body)
	}
	if status, _, _ := get(t, srv.URL+"/orders", http.Header{}); status != 401 {
		t.Errorf("protected route without token: %d", status)
	}

	e2 := echo.New()
	e2.Use(echoauth.Middleware(valid.Validator, echoauth.WithCredentialsOptional(), echoauth.WithQueryToken()))
	e2.GET("/orders", subject)
	srv2 := httptest.NewServer(e2)
	defer srv2.Close()
	if status, _, body := get(t, srv2.URL+"/orders", http.Header{}); status != 200 || body != "(anonymous)" {
		t.Errorf("optional, no token: %d %q", status, body)
	}
	if status, _, body := get(t, srv2.URL+"/orders?access_token="+valid.Token, http.Header{}); status != 200 || body != valid.Subject {
		t.Errorf("query token: %d %q", status, body)
	}
	if status, _, _ := get(t, srv2.URL+"/orders", http.Header{"Authorization": {"Bearer bad.bad.bad"}}); status != 401 {
		t.Errorf("optional, bad token: %d", status)
	}
}
