package interop

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// tlsFiles loads the run's test CA and server certificate.
func (s *server) tlsFiles(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	if s.mtls == "" || s.tlsDir == "" {
		t.Fatal("ACCESSTOKEN_INTEROP_MTLS and ACCESSTOKEN_INTEROP_TLS_DIR are not set: run through oidc-provider/run.sh")
	}
	caPEM, err := os.ReadFile(filepath.Join(s.tlsDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in ca.pem")
	}
	srv, err := tls.LoadX509KeyPair(filepath.Join(s.tlsDir, "server.pem"), filepath.Join(s.tlsDir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return roots, srv
}

// mtlsToken asks the HTTPS listener for a client_credentials token as
// mtls-client, presenting cert: oidc-provider binds it (RFC 8705 §3).
func (s *server) mtlsToken(t *testing.T, roots *x509.CertPool, cert tls.Certificate, resource string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}, "resource": {resource}}
	req, _ := http.NewRequest(http.MethodPost, s.mtls+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("mtls-client", "mtls-client-secret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("mTLS token request: HTTP %d %q, %v", resp.StatusCode, out.Error, err)
	}
	return out.AccessToken
}

// testMTLS: oidc-provider's certificate-bound JWT and opaque tokens pass
// with their client certificate, through ValidateRequest and every adapter
// over mutual TLS, and without it nowhere.
func (s *server) testMTLS(t *testing.T) {
	ctx := context.Background()
	roots, serverCert := s.tlsFiles(t)
	mine := accesstokentest.NewClientCertificate("mtls-client")
	theirs := accesstokentest.NewClientCertificate("mtls-client")
	jwt := s.mtlsToken(t, roots, mine, api+"/es256")
	opaque := s.mtlsToken(t, roots, mine, opaqueRS)

	var payload struct {
		Cnf map[string]string `json:"cnf"`
	}
	raw, err := decodeSegment(strings.Split(jwt, ".")[1])
	sum := sha256.Sum256(mine.Leaf.Raw)
	if err != nil || json.Unmarshal(raw, &payload) != nil || payload.Cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("cnf %v: not bound to the client certificate (%v)", payload.Cnf, err)
	}

	v := s.validator(t, nil) // no DPoP setting needed for certificate binding
	for name, tok := range map[string]string{"JWT": jwt, "opaque": opaque} {
		c, err := v.ValidateRequest(ctx, &accesstoken.Request{Token: tok, ClientCertificate: mine.Leaf})
		if err != nil {
			t.Fatalf("%s with its certificate: %v", name, err)
		}
		if c.ClientID != "mtls-client" || c.Introspected != (name == "opaque") {
			t.Errorf("%s: claims %+v", name, c)
		}
		for what, cert := range map[string]*x509.Certificate{"another certificate": theirs.Leaf, "no certificate": nil} {
			if _, err := v.ValidateRequest(ctx, &accesstoken.Request{Token: tok, ClientCertificate: cert}); !errors.Is(err, accesstoken.ErrInvalidToken) {
				t.Errorf("%s with %s: %v", name, what, err)
			}
		}
		if _, err := v.Validate(ctx, tok); !errors.Is(err, accesstoken.ErrInvalidToken) {
			t.Errorf("%s through Validate: %v", name, err)
		}
	}

	serverTLS := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequestClientCert}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			for _, c := range []struct {
				what  string
				cert  []tls.Certificate
				token string
				ok    bool
			}{
				{"JWT, its certificate", []tls.Certificate{mine}, jwt, true},
				{"opaque, its certificate", []tls.Certificate{mine}, opaque, true},
				{"JWT, another certificate", []tls.Certificate{theirs}, jwt, false},
				{"opaque, no certificate", nil, opaque, false},
			} {
				call := a.start(t, v, "orders:read", &tlsPair{
					server: serverTLS,
					client: &tls.Config{RootCAs: roots, Certificates: c.cert},
				})
				ok, client := call(c.token, nil)
				if ok != c.ok || (ok && client != "mtls-client") {
					t.Errorf("%s: ok=%v client_id=%q, want ok=%v", c.what, ok, client, c.ok)
				}
			}
		})
	}
}
