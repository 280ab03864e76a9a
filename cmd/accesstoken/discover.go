package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// finding is one thing discover reports.
type finding struct {
	Severity string `json:"severity"` // "problem" (exit 1), "warning" or "note"
	Message  string `json:"message"`
}

type discovery struct {
	Issuer      string    `json:"issuer"`
	MetadataURL string    `json:"metadata_url,omitempty"`
	JWKSURI     string    `json:"jwks_uri,omitempty"`
	Keys        int       `json:"keys"`
	Findings    []finding `json:"findings"`
	OK          bool      `json:"ok"`
}

func (d *discovery) add(severity, format string, args ...any) {
	d.Findings = append(d.Findings, finding{severity, fmt.Sprintf(format, args...)})
}

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for each request")
	var algs multiFlag
	fs.Var(&algs, "algorithm", "an algorithm the API accepts (repeatable; default RS*, PS*, ES*, EdDSA, Ed25519)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: accesstoken discover [flags] ISSUER\n\n"+
			"Fetches the issuer's metadata (RFC 8414, then OpenID Connect) and key set and reports what\n"+
			"is wrong with them. Exit status: 0 nothing wrong, 1 problems, 2 usage, 3 the issuer could not be reached.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	issuer := fs.Arg(0)
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		fmt.Fprintf(stderr, "accesstoken discover: %q is not an http(s) issuer URL\n", issuer)
		return exitUsage
	}
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	client := &http.Client{Timeout: *timeout}
	d := &discovery{Issuer: issuer}
	code := d.run(ctx, client, algs)
	d.OK = code == exitOK
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(d)
		return code
	}
	fmt.Fprintf(stdout, "issuer    %s\n", d.Issuer)
	if d.MetadataURL != "" {
		fmt.Fprintf(stdout, "metadata  %s\n", d.MetadataURL)
	}
	if d.JWKSURI != "" {
		fmt.Fprintf(stdout, "jwks_uri  %s (%d keys)\n", d.JWKSURI, d.Keys)
	}
	for _, f := range d.Findings {
		fmt.Fprintf(stdout, "%-8s  %s\n", f.Severity, f.Message)
	}
	if code == exitOK {
		fmt.Fprintln(stdout, "nothing wrong found")
	}
	return code
}

// run fetches and judges; it returns the exit code.
func (d *discovery) run(ctx context.Context, client *http.Client, algs []string) int {
	u, _ := url.Parse(d.Issuer)
	path := strings.TrimSuffix(u.Path, "/")
	rfc8414 := *u
	rfc8414.Path, rfc8414.RawPath = "/.well-known/oauth-authorization-server"+path, ""
	candidates := []string{rfc8414.String(), strings.TrimSuffix(d.Issuer, "/") + "/.well-known/openid-configuration"}
	var meta map[string]any
	reached := false
	var tried []string
	for _, c := range candidates {
		body, _, status, err := get(ctx, client, c)
		switch {
		case err != nil:
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		case status != http.StatusOK:
			reached = true
			tried = append(tried, fmt.Sprintf("%s: HTTP %d", c, status))
			continue
		}
		reached = true
		if err := json.Unmarshal(body, &meta); err != nil || meta == nil {
			d.add("problem", "%s is not a JSON object", c)
			meta = nil
			continue
		}
		d.MetadataURL = c
		break
	}
	if !reached {
		d.add("problem", "the issuer could not be reached: %s", strings.Join(tried, "; "))
		return exitUnavailable
	}
	if meta == nil {
		d.add("problem", "no metadata document: %s", strings.Join(tried, "; "))
		return exitRefused
	}
	if got, _ := meta["issuer"].(string); got != d.Issuer {
		d.add("problem", "the metadata names issuer %q, not %q%s: validators refuse to use it (RFC 8414 §3.3); configure the issuer exactly as the metadata writes it",
			got, d.Issuer, differsBy(got, d.Issuer))
	}
	if ep, ok := meta["introspection_endpoint"].(string); ok && !secure(ep) {
		d.add("problem", "introspection_endpoint %s is not https: tokens and client secrets would cross the network in clear", ep)
	}
	jwks, _ := meta["jwks_uri"].(string)
	if jwks == "" {
		d.add("problem", "the metadata has no jwks_uri")
		return exitRefused
	}
	d.JWKSURI = jwks
	ju, err := url.Parse(jwks)
	switch {
	case err != nil || ju.Host == "":
		d.add("problem", "jwks_uri %q is not a URL", jwks)
		return exitRefused
	case !secure(jwks):
		d.add("problem", "jwks_uri %s is not https", jwks)
	case !strings.EqualFold(ju.Host, u.Host) || ju.Scheme != u.Scheme:
		d.add("warning", "jwks_uri is on another origin (%s) than the issuer (%s): Profile.SameOriginJWKS would refuse it; "+
			"make sure the issuer's metadata cannot be changed by whoever controls that host", ju.Host, u.Host)
	}
	body, hdr, status, err := get(ctx, client, jwks)
	switch {
	case err != nil:
		d.add("problem", "the key set could not be fetched: %v", err)
		return exitRefused
	case status != http.StatusOK:
		d.add("problem", "the key set answered HTTP %d", status)
		return exitRefused
	}
	if hdr.Get("Cache-Control") == "" {
		d.add("warning", "the key set has no Cache-Control header: validators fall back to their own refresh interval")
	}
	d.judgeKeys(body, algs)
	for _, f := range d.Findings {
		if f.Severity == "problem" {
			return exitRefused
		}
	}
	return exitOK
}

// secure accepts https, and http on loopback (a local test issuer).
func secure(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback())
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Pub string `json:"pub"` // AKP (RFC 9964)
}

func (d *discovery) judgeKeys(body []byte, algs []string) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		d.add("problem", "the key set is not a JWK Set: %v", err)
		return
	}
	d.Keys = len(set.Keys)
	usable := 0
	seen := map[string]string{} // kid -> the key's material
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			d.add("problem", "key %d is not a JWK: %v", i, err)
			continue
		}
		name := fmt.Sprintf("key %d", i)
		if k.Kid != "" {
			name = fmt.Sprintf("key %q", k.Kid)
		}
		if k.Use == "enc" {
			d.add("note", "%s is an encryption key (use enc); validators leave it aside", name)
			continue
		}
		if k.Kid == "" {
			if len(set.Keys) > 1 {
				d.add("problem", "%s has no kid: with several keys, validators cannot tell which one signed a token", name)
			} else {
				d.add("warning", "%s has no kid: tokens must then carry none, and a rotation cannot be told apart", name)
			}
		} else if prev, dup := seen[k.Kid]; dup && prev != k.N+k.X+k.Pub {
			d.add("problem", "kid %q names two different keys: validators drop both as ambiguous", k.Kid)
		}
		seen[k.Kid] = k.N + k.X + k.Pub
		if k.Kty == "AKP" {
			switch {
			case k.Alg == "":
				d.add("problem", "%s is a post-quantum AKP key without alg: unusable (RFC 9964 binds it to one algorithm)", name)
				continue
			case !slices.Contains(algs, k.Alg):
				d.add("note", "%s is a post-quantum %s key (RFC 9964); ML-DSA is opt-in: list it with --algorithm %s (Config.Algorithms) to accept its tokens, with a build on Go 1.27 or newer", name, k.Alg, k.Alg)
				continue
			case !pqBuild:
				d.add("problem", "%s is a post-quantum %s key, and this accesstoken was built with a Go older than 1.27, which cannot verify ML-DSA", name, k.Alg)
				continue
			}
		}
		fits := keyAlgorithms(k)
		if k.Kty == "RSA" {
			if n, err := base64.RawURLEncoding.DecodeString(k.N); err == nil {
				if bits := new(big.Int).SetBytes(n).BitLen(); bits < 2048 {
					d.add("problem", "%s is RSA with %d bits: under 2048, validators refuse it", name, bits)
					continue
				}
			}
		}
		var allowed []string
		for _, a := range fits {
			if slices.Contains(algs, a) && (k.Alg == "" || k.Alg == a || (k.Alg == "EdDSA" || k.Alg == "Ed25519") && (a == "EdDSA" || a == "Ed25519")) {
				allowed = append(allowed, a)
			}
		}
		if len(allowed) == 0 {
			d.add("problem", "%s (kty %q, crv %q, alg %q) fits none of the allowed algorithms %s", name, k.Kty, k.Crv, k.Alg, strings.Join(algs, ", "))
			continue
		}
		usable++
	}
	if usable == 0 && len(set.Keys) > 0 {
		d.add("problem", "no key in the set can verify a token under the allowed algorithms")
	}
	if len(set.Keys) == 0 {
		d.add("problem", "the key set is empty")
	}
}

// keyAlgorithms lists the signing algorithms a key's type fits.
func keyAlgorithms(k jwk) []string {
	switch {
	case k.Kty == "RSA":
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case k.Kty == "EC" && k.Crv == "P-256":
		return []string{"ES256"}
	case k.Kty == "EC" && k.Crv == "P-384":
		return []string{"ES384"}
	case k.Kty == "EC" && k.Crv == "P-521":
		return []string{"ES512"}
	case k.Kty == "OKP" && k.Crv == "Ed25519":
		return []string{"EdDSA", "Ed25519"}
	case k.Kty == "AKP" && strings.HasPrefix(k.Alg, "ML-DSA-"):
		return []string{k.Alg}
	}
	return nil
}

const maxDocument = 512 << 10

func get(ctx context.Context, client *http.Client, u string) ([]byte, http.Header, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, nil, 0, err
	}
	if len(body) > maxDocument {
		return nil, nil, 0, errors.New("document larger than 512 KiB")
	}
	return body, resp.Header, resp.StatusCode, nil
}

// differsBy names a difference of only a trailing slash or scheme.
func differsBy(a, b string) string {
	switch {
	case strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/"):
		return " (they differ only by a trailing slash)"
	case strings.TrimPrefix(strings.TrimPrefix(a, "https://"), "http://") == strings.TrimPrefix(strings.TrimPrefix(b, "https://"), "http://"):
		return " (they differ only by scheme)"
	}
	return ""
}
