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

// Reader reads what an HTTP request says about its access token: where the
// token is, and what binds it to the request (the DPoP proof, the URL the
// client addressed for the proof's "htu" (RFC 9449 §4.3), the client
// certificate of RFC 8705). The zero Reader takes the token from the
// Authorization header only, requires one, trusts no proxy and builds the
// URL from the request. A Reader must not be modified after first use; it
// is safe for concurrent use.
type Reader struct {
	// Form also accepts the access_token parameter of a form-encoded body
	// (RFC 6750 §2.2). False means not.
	Form bool
	// Query also accepts the access_token query parameter (RFC 6750 §2.3).
	// False means not: URLs end up in logs.
	Query bool
	// TokenHeader names a header that carries the token instead of
	// Authorization: "Txn-Token" for Transaction Tokens (their draft, §8.1,
	// keeps Authorization for the workload's own credential). The header
	// must appear once and hold exactly one token ([FromTokenHeader]); the
	// Authorization header and the form and query parameters are then
	// ignored, and the token is validated as a bearer token (no DPoP
	// proof, no request binding). "" means Authorization.
	TokenHeader string
	// Optional lets a request without any token through
	// [Reader.Authenticate] without claims. False means a token is required.
	Optional bool

	// PublicURL is the external base URL (scheme, host and an optional path
	// prefix, as [ParsePublicURL] returns it) to which the request path is
	// appended. "" means the URL is built from the request.
	PublicURL string
	// TrustedProxies are the peers whose Forwarded (RFC 7239) and
	// X-Forwarded-Proto / X-Forwarded-Host headers are believed; their
	// first value counts. Nil means none: the headers are ignored.
	TrustedProxies []netip.Prefix
	// CertificateHeader names the header in which a TLS-terminating proxy
	// among TrustedProxies passes the client certificate (see
	// [ParseCertificateHeader]). "" means the certificate comes from the
	// TLS connection only.
	CertificateHeader string
	// Subrequest reads the original method and URI of a gateway's auth
	// subrequest (X-Forwarded-Method / X-Original-Method, X-Forwarded-Uri /
	// X-Original-URI) from a peer among TrustedProxies, as ForwardAuth
	// needs. False means the request's own.
	Subrequest bool
}

// ParseTokenHeader checks a header name for [Reader.TokenHeader]: an HTTP
// field name (RFC 9110 §5.1), returned in canonical form, and not
// Authorization (the Reader's default).
func ParseTokenHeader(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty header name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return "", fmt.Errorf("%q is not a header name", name)
		}
	}
	name = http.CanonicalHeaderKey(name)
	if name == "Authorization" {
		return "", errors.New("the token is in Authorization by default; name another header")
	}
	return name, nil
}

// ParsePublicURL checks a public base URL for [Reader.PublicURL]: absolute
// http(s), no user, query or fragment. The trailing slash is dropped.
func ParsePublicURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("public URL %q is not an absolute http(s) URL without query and fragment", base)
	}
	return strings.TrimSuffix(base, "/"), nil
}

// ParseTrustedProxies reads CIDRs ("10.0.0.0/8") or single addresses
// ("127.0.0.1") for [Reader.TrustedProxies].
func ParseTrustedProxies(cidrs []string) ([]netip.Prefix, error) {
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

// Request builds the [accesstoken.Request] for r, given the scheme and token
// that [Reader.Token] found. The URL, which only a DPoP proof's "htu" is
// checked against, is worked out only for a request that uses the DPoP
// scheme or carries a proof.
func (rd *Reader) Request(r *http.Request, scheme, token string) *accesstoken.Request {
	proofs := r.Header.Values("DPoP")
	req := &accesstoken.Request{
		Scheme: scheme,
		Token:  token,
		Method: r.Method,
	}
	if len(proofs) > 0 || strings.EqualFold(scheme, SchemeDPoP) {
		req.DPoPProof = strings.Join(proofs, ",")
		req.URL = rd.url(r)
	}
	if req.URL != "" && rd.Subrequest && rd.trusted(r.RemoteAddr) {
		if m := firstHeader(r.Header, "X-Forwarded-Method", "X-Original-Method"); plainToken(m) {
			req.Method = m
		}
		if uri := firstHeader(r.Header, "X-Forwarded-Uri", "X-Original-URI"); strings.HasPrefix(uri, "/") {
			if u, err := url.ParseRequestURI(uri); err == nil {
				req.URL = rd.TargetURL(r.RemoteAddr, r.TLS != nil, r.Host, u.EscapedPath(), r.Header)
			}
		}
	}
	switch {
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		req.ClientCertificate = r.TLS.PeerCertificates[0]
	case rd.CertificateHeader != "":
		req.ClientCertificate = rd.ForwardedCertificate(r.RemoteAddr, r.Header.Get(rd.CertificateHeader))
	}
	return req
}

// ForwardedCertificate is the client certificate that the peer at
// remoteAddr passed as value (the CertificateHeader header, or gRPC
// metadata of that name), for transports other than HTTP; nil when the peer
// is not among TrustedProxies, value is empty, or it cannot be read (so a
// certificate-bound token is refused).
func (rd *Reader) ForwardedCertificate(remoteAddr, value string) *x509.Certificate {
	if value == "" || !rd.trusted(remoteAddr) {
		return nil
	}
	cert, err := ParseCertificateHeader(value)
	if err != nil {
		return nil
	}
	return cert
}

// ParseCertificateHeader reads a client certificate as proxies pass it in a
// header (see [Reader.CertificateHeader]):
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

// url is the target URI of r without query (see TargetURL).
func (rd *Reader) url(r *http.Request) string {
	return rd.TargetURL(r.RemoteAddr, r.TLS != nil, r.Host, r.URL.EscapedPath(), r.Header)
}

// TargetURL is the URI a client addressed, without query, for any
// transport: given the peer's address, whether the connection is TLS, the
// host the client named (Host, gRPC's :authority), the escaped path and the
// headers or metadata, it is PublicURL followed by the path; else "https"
// with TLS and "http" without, the host and the path, the scheme and host
// taken from a trusted proxy's forwarding headers when it sent them.
func (rd *Reader) TargetURL(remoteAddr string, isTLS bool, host, path string, h http.Header) string {
	if rd.PublicURL != "" {
		return rd.PublicURL + path
	}
	scheme := "http"
	if isTLS {
		scheme = "https"
	}
	if rd.trusted(remoteAddr) {
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

func (rd *Reader) trusted(remoteAddr string) bool {
	if len(rd.TrustedProxies) == 0 {
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
	for _, p := range rd.TrustedProxies {
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

// ClientIP is the address of the client: the peer at remoteAddr, or, when
// that peer is among TrustedProxies, the address its Forwarded "for" or
// X-Forwarded-For list names last before the trusted proxies (each proxy
// appends, so earlier entries are the client's own claims), else its
// X-Real-IP. "" when none can be read.
func (rd *Reader) ClientIP(remoteAddr string, h http.Header) string {
	peer, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		peer = remoteAddr
	}
	if !rd.trusted(remoteAddr) {
		return plainAddr(peer)
	}
	var chain []string
	for _, f := range h.Values("Forwarded") {
		for _, elem := range strings.Split(f, ",") {
			for _, pair := range strings.Split(elem, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(name, "for") {
					value = strings.Trim(value, `"`)
					if host, _, err := net.SplitHostPort(value); err == nil {
						value = host
					}
					chain = append(chain, strings.Trim(value, "[]"))
				}
			}
		}
	}
	if len(chain) == 0 {
		for _, xff := range h.Values("X-Forwarded-For") {
			for _, item := range strings.Split(xff, ",") {
				chain = append(chain, strings.TrimSpace(item))
			}
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		a := plainAddr(chain[i])
		if a == "" {
			break // an obfuscated or broken entry: nothing before it is known
		}
		if !rd.trusted(a) || i == 0 {
			return a
		}
	}
	if a := plainAddr(strings.TrimSpace(h.Get("X-Real-IP"))); a != "" && len(chain) == 0 {
		return a
	}
	return plainAddr(peer)
}

// plainAddr is s when it is an IP address, in canonical form; "" otherwise.
func plainAddr(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return a.Unmap().String()
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
