// Package replica reproduces, on loopback, what identity platforms publish:
// their discovery documents, key sets, token endpoints' answers and token
// shapes, each built from the platform's own public pages (cited beside
// each replica), and reached through the platform's real host names over
// TLS. Tests of package provider and of the accesstoken command use it;
// it is internal because the documents are fixtures, not an API.
package replica

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Net is one TLS server on loopback that answers for any number of real
// host names, with a client that reaches those names there: its dialer
// sends every connection to the server, its TLS configuration trusts only
// the Net's own certificate authority, and SNI picks a certificate made for
// the name asked. A name no replica serves is refused, as an unknown host
// would be.
type Net struct {
	srv    *httptest.Server
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	client *http.Client

	mu       sync.Mutex
	hosts    map[string]http.Handler
	certs    map[string]*tls.Certificate
	requests []Request
	tunnels  []string
}

// Request is one request a replica received.
type Request struct {
	Method, Host, Path, Query string
	Header                    http.Header
	Form                      url.Values // the form body of a POST
}

// NewNet starts a Net, closed when t ends.
func NewNet(t testing.TB) *Net {
	t.Helper()
	n := &Net{hosts: map[string]http.Handler{}, certs: map[string]*tls.Certificate{}}
	var err error
	if n.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "replica test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &n.caKey.PublicKey, n.caKey)
	if err != nil {
		t.Fatal(err)
	}
	n.ca, _ = x509.ParseCertificate(der)
	n.srv = httptest.NewUnstartedServer(http.HandlerFunc(n.serve))
	n.srv.TLS = &tls.Config{GetCertificate: n.certificate, MinVersion: tls.VersionTLS12}
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)

	pool := x509.NewCertPool()
	pool.AddCert(n.ca)
	addr := n.srv.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	n.client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
				host, _, _ := net.SplitHostPort(hostport)
				if n.handler(host) == nil {
					return nil, &net.DNSError{Err: "no such host (not served by a replica)", Name: host, IsNotFound: true}
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
	}
	return n
}

// Client reaches every host a replica serves, over TLS, and no other.
func (n *Net) Client() *http.Client { return n.client }

// CA is the authority behind every certificate the Net presents.
func (n *Net) CA() *x509.Certificate { return n.ca }

// Addr is the server's loopback address (for tools that must be told where
// the platform's hosts are, such as the accesstoken command).
func (n *Net) Addr() string { return n.srv.Listener.Addr().String() }

// Handle serves host (a name, without port) with h.
func (n *Net) Handle(host string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts[strings.ToLower(host)] = h
}

func (n *Net) handler(host string) http.Handler {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[strings.ToLower(host)]
}

// Proxy starts an HTTP CONNECT proxy on loopback that tunnels every
// connection to the Net, for programs run as processes (which find it
// through HTTPS_PROXY and trust CAFile through SSL_CERT_FILE). It returns
// the proxy's URL; Tunnels lists the host:port each CONNECT asked for.
func (n *Net) Proxy(t testing.TB) string {
	t.Helper()
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		host, _, _ := net.SplitHostPort(r.Host)
		n.mu.Lock()
		n.tunnels = append(n.tunnels, r.Host)
		n.mu.Unlock()
		if n.handler(host) == nil {
			http.Error(w, "no replica serves "+host, http.StatusBadGateway)
			return
		}
		up, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, buf); done <- struct{}{} }()
		go func() { io.Copy(conn, up); done <- struct{}{} }()
		<-done
		conn.Close()
		up.Close()
	}))
	t.Cleanup(p.Close)
	return p.URL
}

// Tunnels lists the host:port of every CONNECT the proxy received.
func (n *Net) Tunnels() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.tunnels...)
}

// CAFile writes the Net's certificate authority as PEM into dir and
// returns the file's path, for SSL_CERT_FILE.
func (n *Net) CAFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "replica-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.ca.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Requests returns the requests served so far, in order.
func (n *Net) Requests() []Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Request(nil), n.requests...)
}

// Reset forgets the requests served so far.
func (n *Net) Reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requests, n.tunnels = nil, nil
}

func (n *Net) serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rec := Request{Method: r.Method, Host: host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
	if r.Method == http.MethodPost {
		r.ParseForm()
		rec.Form = r.PostForm
	}
	n.mu.Lock()
	n.requests = append(n.requests, rec)
	n.mu.Unlock()
	h := n.handler(host)
	if h == nil {
		http.Error(w, "no replica serves "+host, http.StatusMisdirectedRequest)
		return
	}
	h.ServeHTTP(w, r)
}

// certificate makes (once per name) a certificate for the SNI name asked.
func (n *Net) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.certs[name]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, n.ca, &key.PublicKey, n.caKey)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	n.certs[name] = c
	return c, nil
}
