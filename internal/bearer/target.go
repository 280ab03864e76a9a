package bearer

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/tokenguard/accesstoken"
)

// Target works out the URL a client addressed, for the DPoP proof's "htu"
// (RFC 9449 §4.3): from a configured public base URL, from the forwarding
// headers of trusted proxies, or from the request itself.
type Target struct {
	// PublicURL is the external base URL (scheme, host and an optional path
	// prefix) that the request path is appended to. "" means none.
	PublicURL string
	// Proxies are the peers whose Forwarded and X-Forwarded-Proto/-Host
	// headers are believed. Nil means none: the headers are ignored.
	Proxies []netip.Prefix
	// CertHeader names the header in which a TLS-terminating proxy among
	// Proxies passes the client certificate. "" means none.
	CertHeader string
	// Subrequest reads the original method and URI of an auth subrequest
	// (X-Forwarded-Method / X-Original-Method, X-Forwarded-Uri /
	// X-Original-URI) from a proxy among Proxies.
	Subrequest bool
}

// ParsePublicURL checks a public base URL: absolute http(s), no query or
// fragment. The trailing slash is dropped.
func ParsePublicURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("public URL %q is not an absolute http(s) URL without query and fragment", base)
	}
	return strings.TrimSuffix(base, "/"), nil
}

// ParseProxies reads CIDRs ("10.0.0.0/8") or single addresses ("127.0.0.1").
func ParseProxies(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR nor an IP address", c)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Request builds the accesstoken.Request for r. The URL, which only a DPoP
// proof's "htu" is checked against, is worked out only for a request that
// uses the DPoP scheme or carries a proof.
func (t Target) Request(r *http.Request, scheme, token string) *accesstoken.Request {
	proofs := r.Header.Values("DPoP")
	req := &accesstoken.Request{
		Scheme: scheme,
		Token:  token,
		Method: r.Method,
	}
	if len(proofs) > 0 || strings.EqualFold(scheme, SchemeDPoP) {
		req.DPoPProof = strings.Join(proofs, ",")
		req.URL = t.URL(r)
	}
	if req.URL != "" && t.Subrequest && t.trusted(r.RemoteAddr) {
		if m := firstHeader(r.Header, "X-Forwarded-Method", "X-Original-Method"); plainToken(m) {
			req.Method = m
		}
		if uri := firstHeader(r.Header, "X-Forwarded-Uri", "X-Original-URI"); strings.HasPrefix(uri, "/") {
			if u, err := url.ParseRequestURI(uri); err == nil {
				req.URL = t.URLOf(r.RemoteAddr, r.TLS != nil, r.Host, u.EscapedPath(), r.Header)
			}
		}
	}
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		req.ClientCertificate = r.TLS.PeerCertificates[0]
	case t.CertHeader != "":
		req.ClientCertificate = t.ForwardedCertificate(r.RemoteAddr, r.Header.Get(t.CertHeader))
	}
	return req
}

// ForwardedCertificate is the client certificate a trusted proxy passed in
// the CertHeader value; nil when the peer is not trusted, the header is
// empty, or its value cannot be read (so a certificate-bound token is
// refused).
func (t Target) ForwardedCertificate(remoteAddr, value string) *x509.Certificate {
	if value == "" || !t.trusted(remoteAddr) {
		return nil
	}
	cert, err := ParseCertificateHeader(value)
	if err != nil {
		return nil
	}
	return cert
}

// ParseCertificateHeader reads a client certificate as proxies pass it:
// URL-escaped PEM (nginx $ssl_client_escaped_cert, AWS ALB), Envoy's
// x-forwarded-client-cert (the Cert="..." field of its first element), or
// base64 DER (PEM without its armor, as Traefik passes it).
func ParseCertificateHeader(value string) (*x509.Certificate, error) {
	if len(value) > 16<<10 {
		return nil, errors.New("certificate header too large")
	}
	if cert, ok := xfccCert(value); ok {
		value = cert
	}
	// Proxies escape differently: nginx writes "%20" and "%2B", form
	// encoders "+" for a space. PEM is tried both ways; base64 DER keeps
	// its "+".
	for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		text, err := unescape(value)
		if err != nil {
			continue
		}
		if block, _ := pem.Decode([]byte(text)); block != nil {
			if block.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("PEM block %q", block.Type)
			}
			return x509.ParseCertificate(block.Bytes)
		}
	}
	text, err := url.PathUnescape(value)
	if err != nil {
		return nil, err
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, errors.New("certificate header is neither PEM nor base64 DER")
	}
	return x509.ParseCertificate(der)
}

// xfccCert finds Cert="..." in the first element of an Envoy
// x-forwarded-client-cert value.
func xfccCert(v string) (string, bool) {
	first, _, _ := strings.Cut(v, ",")
	for _, pair := range strings.Split(first, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(name, "Cert") {
			return strings.Trim(value, `"`), true
		}
	}
	return "", false
}

// URL is the target URI of r without query: the public base URL and the
// path; else "https" with TLS and "http" without, the host, and the path,
// the scheme and host taken from a trusted proxy's headers when it sent them.
func (t Target) URL(r *http.Request) string {
	return t.URLOf(r.RemoteAddr, r.TLS != nil, r.Host, r.URL.EscapedPath(), r.Header)
}

// URLOf is URL for any transport: the peer's address, whether the
// connection is TLS, the host the client named (Host, :authority), the path
// and the headers or metadata (for the forwarding headers).
func (t Target) URLOf(remoteAddr string, isTLS bool, host, path string, h http.Header) string {
	if t.PublicURL != "" {
		return t.PublicURL + path
	}
	scheme := "http"
	if isTLS {
		scheme = "https"
	}
	if t.trusted(remoteAddr) {
		p, h := forwarded(h)
		if p != "" {
			scheme = p
		}
		if h != "" {
			host = h
		}
	}
	return scheme + "://" + host + path
}

func (t Target) trusted(remoteAddr string) bool {
	if len(t.Proxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.Proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded reads the scheme and host the client used from the first
// element of Forwarded (RFC 7239), else from the first values of
// X-Forwarded-Proto and X-Forwarded-Host: the outermost proxy's view. Values
// that are not a plain scheme or host are ignored.
func forwarded(h http.Header) (scheme, host string) {
	if f := h.Get("Forwarded"); f != "" {
		first, _, _ := strings.Cut(f, ",")
		for _, pair := range strings.Split(first, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
			value = strings.Trim(value, `"`)
			switch strings.ToLower(name) {
			case "proto":
				scheme = value
			case "host":
				host = value
			}
		}
	} else {
		scheme, _, _ = strings.Cut(h.Get("X-Forwarded-Proto"), ",")
		host, _, _ = strings.Cut(h.Get("X-Forwarded-Host"), ",")
	}
	scheme, host = strings.ToLower(strings.TrimSpace(scheme)), strings.TrimSpace(host)
	if scheme != "http" && scheme != "https" {
		scheme = ""
	}
	if !plainHost(host) {
		host = ""
	}
	return scheme, host
}

// plainHost accepts host[:port] text and nothing that could change the
// meaning of a URL built around it.
func plainHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// firstHeader is the first non-empty value among the named headers.
func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// plainToken accepts an HTTP method: letters only, at most 16.
func plainToken(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
