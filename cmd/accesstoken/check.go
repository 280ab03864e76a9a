package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/provider"
)

// checkFlags are check's settings.
type checkFlags struct {
	issuer, jwksURL, jwksFile, provider, domain, region, userPool, tenant, at string
	audience, algorithms, tokenTypes, clientIDs                               multiFlag
	leeway, timeout                                                           time.Duration
	json                                                                      bool
}

func newCheckFlags(stderr io.Writer) (*flag.FlagSet, *checkFlags) {
	f := &checkFlags{}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.issuer, "issuer", "", "the issuer, exactly as its tokens' \"iss\" (okta: the authorization server; keycloak: the realm URL)")
	fs.Var(&f.audience, "audience", "an audience of this API (repeatable)")
	fs.StringVar(&f.jwksURL, "jwks-url", "", "the JWKS URL (default: discovered from the issuer)")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "a JWK Set saved on disk: judge offline with its keys, fetching nothing")
	fs.Var(&f.algorithms, "algorithm", "an accepted signing algorithm (repeatable; default RS*, PS*, ES*, EdDSA, Ed25519)")
	fs.Var(&f.tokenTypes, "token-type", `an accepted JOSE "typ" (repeatable; "" for none; default none, JWT, at+jwt)`)
	fs.DurationVar(&f.leeway, "leeway", 0, "clock skew allowed on exp, nbf and iat (a Go duration, such as 30s)")
	fs.StringVar(&f.at, "at", "", "judge the token as of this time (RFC 3339) instead of now")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
	fs.StringVar(&f.provider, "provider", "", "a platform: auth0, okta, keycloak, cognito, entra or google")
	fs.StringVar(&f.domain, "domain", "", "auth0: the tenant's domain or custom domain")
	fs.StringVar(&f.region, "region", "", "cognito: the user pool's region")
	fs.StringVar(&f.userPool, "user-pool", "", "cognito: the user pool ID")
	fs.Var(&f.clientIDs, "client-id", "cognito: an app client ID; google: an OAuth client ID for opaque access tokens (repeatable)")
	fs.StringVar(&f.tenant, "tenant", "", "entra: the directory (tenant) ID")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the issuer")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: accesstoken check [flags] [TOKEN|FILE|-]\n\n"+
			"Validates the token and explains the verdict check by check. Exit status:\n"+
			"0 accepted, 1 refused, 2 usage or configuration, 3 the issuer could not be reached.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, f
}

// explainer is a Validator or a MultiIssuer.
type explainer interface {
	accesstoken.RequestValidator
	Explain(ctx context.Context, token string) *accesstoken.Explanation
	Refresh(ctx context.Context) error
	Close() error
}

func runCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, f := newCheckFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	token, err := readToken(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "accesstoken check: %v\n", err)
		return exitUsage
	}
	client := &http.Client{Timeout: f.timeout}
	v, err := f.validator(ctx, token, client)
	if err != nil {
		fmt.Fprintf(stderr, "accesstoken check: %v\n", err)
		return exitUsage
	}
	defer v.Close()
	wait, cancel := context.WithTimeout(ctx, f.timeout)
	v.Refresh(wait) // the keys, before judging; a failure shows in the explanation
	x := v.Explain(wait, token)
	cancel()
	if f.json {
		writeJSON(stdout, x)
	} else {
		writeText(stdout, x)
	}
	switch {
	case x.Accepted:
		return exitOK
	case errors.Is(x.Err, accesstoken.ErrUnavailable):
		return exitUnavailable
	}
	return exitRefused
}

// validator builds the configuration the flags describe.
func (f *checkFlags) validator(ctx context.Context, token string, client *http.Client) (explainer, error) {
	return f.build(ctx, token, client, nil)
}

// build is validator with more settings (serve's) applied to every Config.
func (f *checkFlags) build(ctx context.Context, token string, client *http.Client, more func(*accesstoken.Config)) (explainer, error) {
	var at time.Time
	if f.at != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, f.at); err != nil {
			return nil, fmt.Errorf("--at: %v (want RFC 3339, such as 2026-12-06T10:00:00Z)", err)
		}
	}
	jwksURL := f.jwksURL
	if f.jwksFile != "" {
		if f.jwksURL != "" {
			return nil, errors.New("--jwks-file and --jwks-url exclude each other")
		}
		// The file is read by the validator, as a jwks_uri is: the same
		// rules for alg, key_ops, use and weak keys, whatever the source.
		abs, err := filepath.Abs(f.jwksFile)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return nil, fmt.Errorf("--jwks-file: %w", err)
		}
		jwksURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	need := func(name, value string) error {
		if value == "" {
			return fmt.Errorf("--provider %s needs --%s", f.provider, name)
		}
		return nil
	}
	var single *accesstoken.Config
	var multi *accesstoken.MultiIssuerConfig
	switch f.provider {
	case "":
		if f.issuer == "" || len(f.audience) == 0 {
			return nil, errors.New("--issuer and --audience are required (or --provider with its settings)")
		}
		single = &accesstoken.Config{Issuer: f.issuer, Audience: f.audience}
	case "auth0":
		if err := errors.Join(need("domain", f.domain), need("audience", f.audience.String())); err != nil {
			return nil, err
		}
		cfg := provider.Auth0(f.domain, f.audience...)
		single = &cfg
	case "okta":
		if err := errors.Join(need("issuer", f.issuer), need("audience", f.audience.String())); err != nil {
			return nil, err
		}
		cfg, err := provider.Okta(f.issuer, f.audience...)
		if err != nil {
			return nil, err
		}
		single = &cfg
	case "keycloak":
		if err := errors.Join(need("issuer", f.issuer), need("audience", f.audience.String())); err != nil {
			return nil, err
		}
		cfg := provider.Keycloak(f.issuer, f.audience...)
		single = &cfg
	case "cognito":
		if err := errors.Join(need("region", f.region), need("user-pool", f.userPool), need("client-id", f.clientIDs.String())); err != nil {
			return nil, err
		}
		cfg := provider.Cognito(f.region, f.userPool, f.clientIDs...)
		single = &cfg
	case "entra":
		if err := errors.Join(need("tenant", f.tenant), need("audience", f.audience.String())); err != nil {
			return nil, err
		}
		cfg := provider.Entra(f.tenant, f.audience...)
		multi = &cfg
	case "google":
		if strings.Count(token, ".") != 2 { // an opaque access token: tokeninfo
			ids := append(append([]string(nil), f.clientIDs...), f.audience...)
			if len(ids) == 0 {
				return nil, errors.New("--provider google needs --client-id (or --audience) for an opaque access token")
			}
			cfg := provider.GoogleAccessTokens(ids...)
			single = &cfg
			break
		}
		if err := need("audience", f.audience.String()); err != nil {
			return nil, err
		}
		cfg := provider.Google(f.audience...)
		multi = &cfg
	default:
		return nil, fmt.Errorf("--provider %q is not one of auth0, okta, keycloak, cognito, entra, google", f.provider)
	}
	edit := func(c *accesstoken.Config) {
		c.HTTPClient = client
		c.Leeway = f.leeway
		if jwksURL != "" {
			c.JWKSURL = jwksURL
		}
		if len(f.algorithms) > 0 {
			c.Algorithms = f.algorithms
		}
		if len(f.tokenTypes) > 0 {
			c.TokenTypes = f.tokenTypes
		}
		if !at.IsZero() {
			c.Now = func() time.Time { return at }
		}
		if more != nil {
			more(c)
		}
	}
	if single != nil {
		edit(single)
		v, err := accesstoken.NewValidator(ctx, *single)
		return v, err
	}
	for i := range multi.Issuers {
		edit(&multi.Issuers[i])
	}
	m, err := accesstoken.NewMultiIssuer(ctx, *multi)
	return m, err
}

// report is the --json form of an explanation.
type report struct {
	Accepted bool           `json:"accepted"`
	Error    string         `json:"error,omitempty"`
	Checks   []reportCheck  `json:"checks"`
	Claims   map[string]any `json:"claims"`
}

type reportCheck struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Got  string `json:"got"`
	Want string `json:"want"`
	Hint string `json:"hint,omitempty"`
}

func writeJSON(w io.Writer, x *accesstoken.Explanation) {
	r := report{Accepted: x.Accepted, Checks: []reportCheck{}, Claims: x.Claims}
	if x.Err != nil {
		r.Error = x.Err.Error()
	}
	for _, c := range x.Checks {
		r.Checks = append(r.Checks, reportCheck{c.Name, c.OK, c.Got, c.Want, c.Hint})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(r)
}

func writeText(w io.Writer, x *accesstoken.Explanation) {
	if x.Accepted {
		fmt.Fprintln(w, "ACCEPTED")
	} else {
		fmt.Fprintf(w, "REFUSED: %v\n", x.Err)
	}
	for _, c := range x.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-9s %s\n", mark, c.Name, c.Got)
		if !c.OK {
			fmt.Fprintf(w, "       %-9s want %s\n", "", c.Want)
			if c.Hint != "" {
				fmt.Fprintf(w, "       %-9s hint: %s\n", "", c.Hint)
			}
		}
	}
	if len(x.Claims) > 0 {
		if x.Accepted {
			fmt.Fprintln(w, "claims (verified):")
		} else {
			fmt.Fprintln(w, "claims (NOT verified: the token was refused):")
		}
		writeObject(w, x.Claims)
	}
}

// writeObject prints a decoded object, one member a line, names sorted.
func writeObject(w io.Writer, m map[string]any) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b, _ := json.Marshal(m[k])
		fmt.Fprintf(w, "  %-12s %s\n", k, b)
	}
}
