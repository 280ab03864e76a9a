package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

func runInspect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: accesstoken inspect [flags] [TOKEN|FILE|-]\n\n"+
			"Decodes a token's header and claims WITHOUT verifying anything: use check to validate.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	token, err := readToken(fs.Args(), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "accesstoken inspect: %v\n", err)
		return exitUsage
	}
	now := time.Now()
	out := inspection{Verified: false, Note: "decoded only: nothing was verified (signature, issuer, audience, expiry); use accesstoken check"}
	parts := strings.Split(token, ".")
	switch len(parts) {
	case 3:
		out.Kind = "JWS"
	case 5:
		out.Kind = "JWE"
	default:
		out.Kind = "opaque"
	}
	if out.Kind != "opaque" {
		if out.Header, err = decodePart(parts[0]); err != nil {
			fmt.Fprintf(stderr, "accesstoken inspect: header: %v\n", err)
			return exitRefused
		}
	}
	if out.Kind == "JWS" {
		if out.Claims, err = decodePart(parts[1]); err != nil {
			fmt.Fprintf(stderr, "accesstoken inspect: claims: %v\n", err)
			return exitRefused
		}
		out.SignatureBytes = base64.RawURLEncoding.DecodedLen(len(strings.TrimRight(parts[2], "=")))
		out.Times = map[string]timeInfo{}
		for _, name := range []string{"exp", "nbf", "iat", "auth_time"} {
			if n, ok := out.Claims[name].(json.Number); ok {
				if sec, err := n.Int64(); err == nil {
					t := time.Unix(sec, 0).UTC()
					out.Times[name] = timeInfo{t.Format(time.RFC3339), relative(t, now)}
				}
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	fmt.Fprintln(stdout, "NOT VERIFIED: "+out.Note)
	switch out.Kind {
	case "opaque":
		fmt.Fprintln(stdout, "an opaque token: it holds nothing to decode; only its issuer can say what it means")
		return exitOK
	case "JWE":
		fmt.Fprintln(stdout, "an encrypted token (JWE): only the header can be read without the decryption key")
	}
	fmt.Fprintln(stdout, "header:")
	writeObject(stdout, out.Header)
	if out.Kind == "JWS" {
		fmt.Fprintln(stdout, "claims:")
		writeObject(stdout, out.Claims)
		if len(out.Times) > 0 {
			fmt.Fprintln(stdout, "times:")
			for _, name := range []string{"exp", "nbf", "iat", "auth_time"} {
				if ti, ok := out.Times[name]; ok {
					fmt.Fprintf(stdout, "  %-12s %s (%s)\n", name, ti.Time, ti.Relative)
				}
			}
		}
		fmt.Fprintf(stdout, "signature: %d bytes, not verified\n", out.SignatureBytes)
	}
	return exitOK
}

type inspection struct {
	Verified       bool                `json:"verified"`
	Note           string              `json:"note"`
	Kind           string              `json:"kind"`
	Header         map[string]any      `json:"header,omitempty"`
	Claims         map[string]any      `json:"claims,omitempty"`
	Times          map[string]timeInfo `json:"times,omitempty"`
	SignatureBytes int                 `json:"signature_bytes,omitempty"`
}

type timeInfo struct {
	Time     string `json:"time"`
	Relative string `json:"relative"`
}

func decodePart(seg string) (map[string]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return m, nil
}

func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + d.String()
	}
	return d.Abs().String() + " ago"
}
