package httpauth_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func subjectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := accesstoken.FromContext(r.Context())
		io.WriteString(w, claims.Subject)
	})
}

func newValidator(t *testing.T, as *accesstokentest.Server, dpop *accesstoken.DPoPConfig) *accesstoken.Validator {
	t.Helper()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true, DPoP: dpop,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestCertificateBoundOverTLS: a token bound to a client certificate passes
// only over a TLS connection that presented that certificate (RFC 8705).
func TestCertificateBoundOverTLS(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := newValidator(t, as, nil)
	srv := httptest.NewUnstartedServer(httpauth.Middleware(v)(subjectHandler()))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	mine := accesstokentest.NewClientCertificate("client-a")
	theirs := accesstokentest.NewClientCertificate("client-a") // same name, another key
	tok := as.Token(map[string]any{"sub": "svc-a"}, accesstokentest.WithCertificate(mine.Leaf))
	clientWith := func(certs ...tls.Certificate) *http.Client {
		// srv.Client() is one shared client: each case gets its own.
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		return &http.Client{Transport: tr}
	}
	tests := []struct {
		name   string
		client *http.Client
		status int
	}{
		{"its certificate", clientWith(mine), http.StatusOK},
		{"another certificate", clientWith(theirs), http.StatusUnauthorized},
		{"no certificate", clientWith(), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := tt.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.status, resp.Header.Get("WWW-Authenticate"))
		}
		if tt.status == http.StatusOK && string(body) != "svc-a" {
			t.Errorf("%s: handler saw %q", tt.name, body)
		}
	}
}

// TestDPoPOverTLSWithNonces: the htu is https, a nonce is demanded, then
// accepted, and every answer carries the current nonce.
func TestDPoPOverTLSWithNonces(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := newValidator(t, as, &accesstoken.DPoPConfig{Nonces: true})
	srv := httptest.NewTLSServer(httpauth.Middleware(v)(subjectHandler()))
	defer srv.Close()
	key := accesstokentest.NewDPoPKey("EdDSA")
	tok := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	send := func(opts ...accesstokentest.ProofOption) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/orders?draft=1", nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		opts = append(opts, accesstokentest.WithAccessToken(tok))
		req.Header.Set("DPoP", key.Proof("POST", srv.URL+"/orders", opts...))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := send()
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != http.StatusUnauthorized || nonce == "" {
		t.Fatalf("without a nonce: %d, DPoP-Nonce %q", resp.StatusCode, nonce)
	}
	resp = send(accesstokentest.WithNonce(nonce))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d (%s), DPoP-Nonce %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("DPoP-Nonce"))
	}
}

// TestDPoPBehindProxy: a reverse proxy in front changes scheme and host. The
// proof names the proxy's URL; the backend accepts it only when it trusts
// the proxy's forwarding headers or knows its public URL.
func TestDPoPBehindProxy(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := newValidator(t, as, &accesstoken.DPoPConfig{})
	key := accesstokentest.NewDPoPKey("ES256")
	tok := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))

	tests := []struct {
		name   string
		opts   []httpauth.Option
		status int
	}{
		{"proxy trusted", []httpauth.Option{httpauth.WithTrustedProxies("127.0.0.1/32", "::1")}, http.StatusOK},
		{"public URL", nil, http.StatusOK}, // set below: the proxy's URL is known only once it runs
		{"proxy not trusted", []httpauth.Option{httpauth.WithTrustedProxies("10.0.0.0/8")}, http.StatusUnauthorized},
		{"no option", nil, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var handler http.Handler
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
			defer backend.Close()
			target, _ := url.Parse(backend.URL)
			proxy := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			}})
			defer proxy.Close()
			opts := tt.opts
			if tt.name == "public URL" {
				opts = []httpauth.Option{httpauth.WithPublicURL(proxy.URL)}
			}
			handler = httpauth.Middleware(v, opts...)(subjectHandler())

			req, _ := http.NewRequest("GET", proxy.URL+"/orders", nil)
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", key.Proof("GET", proxy.URL+"/orders", accesstokentest.WithAccessToken(tok)))
			resp, err := proxy.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestOptionsPanicOnBadInput(t *testing.T) {
	for name, f := range map[string]func(){
		"public URL":      func() { httpauth.WithPublicURL("/relative") },
		"trusted proxies": func() { httpauth.WithTrustedProxies("not-a-cidr") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestCertificateFromTrustedProxy: a TLS-terminating proxy passes the
// client certificate in a header, as nginx does with
// $ssl_client_escaped_cert; the API believes it only from that proxy.
func TestCertificateFromTrustedProxy(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v := newValidator(t, as, nil)
	mine := accesstokentest.NewClientCertificate("client-a")
	tok := as.Token(map[string]any{"sub": "svc-a"}, accesstokentest.WithCertificate(mine.Leaf))

	tests := []struct {
		name   string
		opts   []httpauth.Option
		status int
	}{
		{"proxy trusted", []httpauth.Option{httpauth.WithTrustedProxies("127.0.0.1"), httpauth.WithClientCertificateHeader("X-SSL-Client-Cert")}, http.StatusOK},
		{"proxy not trusted", []httpauth.Option{httpauth.WithTrustedProxies("10.0.0.0/8"), httpauth.WithClientCertificateHeader("X-SSL-Client-Cert")}, http.StatusUnauthorized},
		{"header not named", []httpauth.Option{httpauth.WithTrustedProxies("127.0.0.1")}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := httptest.NewServer(httpauth.Middleware(v, tt.opts...)(subjectHandler()))
			defer backend.Close()
			target, _ := url.Parse(backend.URL)
			proxy := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				// Overwrite whatever the client sent, as a proxy must.
				pr.Out.Header.Del("X-SSL-Client-Cert")
				if certs := pr.In.TLS.PeerCertificates; len(certs) > 0 {
					p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw})
					pr.Out.Header.Set("X-SSL-Client-Cert", url.QueryEscape(string(p)))
				}
			}})
			proxy.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
			proxy.StartTLS()
			defer proxy.Close()
			tr := proxy.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.Certificates = []tls.Certificate{mine}
			req, _ := http.NewRequest("GET", proxy.URL+"/orders", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	// A client talking to the API directly cannot plant the header when no
	// peer is trusted, only its own TLS certificate (none here) counts.
	direct := httptest.NewServer(httpauth.Middleware(v, httpauth.WithClientCertificateHeader("X-SSL-Client-Cert"))(subjectHandler()))
	defer direct.Close()
	req, _ := http.NewRequest("GET", direct.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-SSL-Client-Cert", url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mine.Leaf.Raw}))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("planted header without trusted proxies: %d", resp.StatusCode)
	}
}
