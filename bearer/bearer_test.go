package bearer

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

func TestFromAuthorization(t *testing.T) {
	tests := []struct {
		values []string
		scheme string
		token  string
		err    error
	}{
		{nil, "", "", nil},
		{[]string{"Bearer abc.def-_~+/=="}, SchemeBearer, "abc.def-_~+/==", nil},
		{[]string{"bearer abc"}, SchemeBearer, "abc", nil},
		{[]string{"BEARER   abc"}, SchemeBearer, "abc", nil},
		{[]string{"Basic dXNlcjpwYXNz"}, "", "", nil},
		{[]string{"DPoP abc"}, SchemeDPoP, "abc", nil},
		{[]string{"dpop a.b.c"}, SchemeDPoP, "a.b.c", nil},
		{[]string{"DPoP a b"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"DPoP"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer "}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a b"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer abc "}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a=b"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer =abc"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a\"b"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a\tb"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer\tabc"}, "", "", nil}, // not the Bearer scheme followed by SP
		{[]string{"Bearer a", "Bearer b"}, "", "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a", "DPoP b"}, "", "", accesstoken.ErrInvalidRequest},
	}
	for _, tt := range tests {
		scheme, tok, err := FromAuthorization(tt.values)
		if scheme != tt.scheme || tok != tt.token || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("%q: %q %q, %v; want %q %q, %v", tt.values, scheme, tok, err, tt.scheme, tt.token, tt.err)
		}
	}
}

func TestFromRequestPlaces(t *testing.T) {
	r := httptest.NewRequest("POST", "/?access_token=q", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, tok, err := (&Reader{}).Token(r); !errors.Is(err, accesstoken.ErrNoToken) {
		t.Errorf("places off: %q %v", tok, err)
	}
	r = httptest.NewRequest("POST", "/?access_token=q", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, _, err := (&Reader{Form: true, Query: true}).Token(r); !errors.Is(err, accesstoken.ErrInvalidRequest) {
		t.Errorf("form and query: %v", err)
	}
	r = httptest.NewRequest("PUT", "/", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if scheme, tok, err := (&Reader{Form: true}).Token(r); scheme != SchemeBearer || tok != "f" || err != nil {
		t.Errorf("form: %q %v", tok, err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if _, _, err := (&Reader{Form: true}).Token(r); !errors.Is(err, accesstoken.ErrNoToken) {
		t.Errorf("multipart is not RFC 6750 §2.2: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("access_token=%zz"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, _, err := (&Reader{Form: true}).Token(r); !errors.Is(err, accesstoken.ErrInvalidRequest) {
		t.Errorf("bad form: %v", err)
	}
}

// FuzzFromAuthorization: any header value gives a b64token found in it, no
// token, or invalid_request; never a panic.
func FuzzFromAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Basic x", "Bearer a b", "Bearer \x00", "Bearer ==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		scheme, tok, err := FromAuthorization([]string{h})
		if err != nil {
			if !errors.Is(err, accesstoken.ErrInvalidRequest) || tok != "" || scheme != "" {
				t.Fatalf("%q: %q %q %v", h, scheme, tok, err)
			}
			return
		}
		if (tok == "") != (scheme == "") {
			t.Fatalf("%q: scheme %q with token %q", h, scheme, tok)
		}
		if tok != "" && (!isB64Token(tok) || !strings.HasSuffix(h, tok) || !strings.EqualFold(h[:len(scheme)], scheme)) {
			t.Fatalf("%q gave %q token %q", h, scheme, tok)
		}
	})
}

func TestTargetURL(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target Reader
		remote string
		tls    bool
		header map[string]string
		want   string
	}{
		{"plain", Reader{}, "192.0.2.1:5000", false, nil, "http://api.example/orders/7"},
		{"TLS", Reader{}, "192.0.2.1:5000", true, nil, "https://api.example/orders/7"},
		{"untrusted forwarding headers ignored", Reader{TrustedProxies: proxies}, "192.0.2.1:5000", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "http://api.example/orders/7"},
		{"trusted X-Forwarded", Reader{TrustedProxies: proxies}, "10.1.2.3:5000", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"}, "https://public.example/orders/7"},
		{"trusted, first value", Reader{TrustedProxies: proxies}, "127.0.0.1:5000", false,
			map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "public.example, internal"}, "https://public.example/orders/7"},
		{"trusted Forwarded wins", Reader{TrustedProxies: proxies}, "10.1.2.3:5000", false,
			map[string]string{"Forwarded": `for=192.0.2.1;proto=https;host="fwd.example:8443", for=10.0.0.1`, "X-Forwarded-Host": "xfh.example"}, "https://fwd.example:8443/orders/7"},
		{"trusted, hostile host ignored", Reader{TrustedProxies: proxies}, "10.1.2.3:5000", false,
			map[string]string{"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example/x?"}, "http://api.example/orders/7"},
		{"IPv4-mapped IPv6 peer", Reader{TrustedProxies: proxies}, "[::ffff:10.1.2.3]:5000", false,
			map[string]string{"X-Forwarded-Proto": "https"}, "https://api.example/orders/7"},
		{"public URL", Reader{PublicURL: "https://example.com/api"}, "192.0.2.1:5000", false, nil, "https://example.com/api/orders/7"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://api.example/orders/7?x=1", nil)
		r.RemoteAddr = tt.remote
		if !tt.tls {
			r.TLS = nil
		} else if r.TLS == nil {
			r.TLS = &tls.ConnectionState{}
		}
		for k, v := range tt.header {
			r.Header.Set(k, v)
		}
		if got := tt.target.url(r); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "host.example", ""} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"/api", "ftp://x.example", "https://x.example/?q", "https://u@x.example"} {
		if _, err := ParsePublicURL(bad); err == nil {
			t.Errorf("ParsePublicURL(%q) accepted", bad)
		}
	}
}

func TestForwardedCertificate(t *testing.T) {
	cert := accesstokentest.NewClientCertificate("client-a").Leaf
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	proxies, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	target := Reader{TrustedProxies: proxies, CertificateHeader: "X-SSL-Client-Cert"}
	tests := []struct {
		name   string
		remote string
		value  string
		ok     bool
	}{
		{"nginx $ssl_client_escaped_cert", "10.0.0.5:1", url.PathEscape(pemText), true},
		{"form-escaped PEM", "10.0.0.5:1", url.QueryEscape(pemText), true},
		{"Envoy x-forwarded-client-cert", "10.0.0.5:1", `Hash=abc;Cert="` + url.QueryEscape(pemText) + `";Subject="CN=client-a",By=spiffe://x`, true},
		{"base64 DER", "10.0.0.5:1", b64, true},
		{"untrusted peer", "192.0.2.7:1", url.QueryEscape(pemText), false},
		{"empty", "10.0.0.5:1", "", false},
		{"garbage", "10.0.0.5:1", "%%%not a cert", false},
		{"a private key PEM", "10.0.0.5:1", url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}))), false},
		{"too large", "10.0.0.5:1", strings.Repeat("A", 17<<10), false},
	}
	for _, tt := range tests {
		got := target.ForwardedCertificate(tt.remote, tt.value)
		if (got != nil) != tt.ok || (got != nil && !got.Equal(cert)) {
			t.Errorf("%s: got %v, want ok=%v", tt.name, got != nil, tt.ok)
		}
	}
}

// FuzzForwarded: any forwarding and certificate header from a trusted proxy
// gives a plain http(s) URL of printable characters and a certificate or
// none; never a panic.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{`for=1.2.3.4;proto=https;host="a.example:8443"`, "https, http", "a.example/x?y", `Hash=1;Cert="%2D%2D"`, "-----BEGIN CERTIFICATE-----"} {
		f.Add(s, s, s)
	}
	proxies, _ := ParseTrustedProxies([]string{"127.0.0.1"})
	target := Reader{TrustedProxies: proxies, CertificateHeader: "X-Client-Cert", Subrequest: true}
	f.Fuzz(func(t *testing.T, fwd, xfh, cert string) {
		r := httptest.NewRequest("GET", "http://api.example/orders", nil)
		r.RemoteAddr = "127.0.0.1:4000"
		r.Header.Set("Forwarded", fwd)
		r.Header.Set("X-Forwarded-Host", xfh)
		r.Header.Set("X-Forwarded-Proto", xfh)
		r.Header.Set("X-Client-Cert", cert)
		r.Header.Set("X-Forwarded-Method", fwd)
		r.Header.Set("X-Original-URI", cert)
		if req := target.Request(r, SchemeBearer, "t"); req.URL != "" || req.DPoPProof != "" {
			t.Fatalf("a bearer request without a proof got URL %q: it is worked out for DPoP only", req.URL)
		}
		req := target.Request(r, SchemeDPoP, "t")
		if !plainToken(req.Method) {
			t.Fatalf("method %q", req.Method)
		}
		u := req.URL
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			t.Fatalf("URL %q", u)
		}
		rest := u[strings.Index(u, "//")+2:]
		host, _, _ := strings.Cut(rest, "/")
		if !plainHost(host) || strings.ContainsAny(u, " \r\n\x00") {
			t.Fatalf("URL %q from %q %q", u, fwd, xfh)
		}
	})
}

func TestFromTokenHeader(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   string
		bad    bool
	}{
		{nil, "", false},
		{[]string{"a.b.c"}, "a.b.c", false},
		{[]string{"  a.b.c "}, "a.b.c", false},
		{[]string{"a.b.c", "a.b.c"}, "", true},
		{[]string{"a.b.c, d.e.f"}, "", true},
		{[]string{"Bearer a.b.c"}, "", true},
		{[]string{""}, "", true},
		{[]string{"a.b.c\x00"}, "", true},
	} {
		got, err := FromTokenHeader(c.values)
		if got != c.want || (err != nil) != c.bad || c.bad && !errors.Is(err, accesstoken.ErrInvalidRequest) {
			t.Errorf("%q: %q, %v", c.values, got, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxies, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	rd := &Reader{TrustedProxies: proxies}
	for _, c := range []struct {
		remote string
		header map[string]string
		want   string
	}{
		{"203.0.113.5:4000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},             // an untrusted peer's headers are ignored
		{"10.0.0.2:4000", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}, "198.51.100.7"}, // the client's own claim comes first
		{"10.0.0.2:4000", map[string]string{"X-Forwarded-For": "198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"10.0.0.2:4000", map[string]string{"Forwarded": `for=192.0.2.60;proto=https, for="[2001:db8::1]:443"`}, "2001:db8::1"},
		{"10.0.0.2:4000", map[string]string{"X-Real-IP": "192.0.2.9"}, "192.0.2.9"},
		{"10.0.0.2:4000", map[string]string{"X-Forwarded-For": "garbage"}, "10.0.0.2"},
		{"10.0.0.2:4000", nil, "10.0.0.2"},
	} {
		h := http.Header{}
		for k, v := range c.header {
			h.Set(k, v)
		}
		if got := rd.ClientIP(c.remote, h); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.remote, c.header, got, c.want)
		}
	}
}
