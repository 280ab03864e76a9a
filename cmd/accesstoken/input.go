package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const maxTokenInput = 64 << 10

// readToken takes the token from the one argument: the token itself, or
// the name of a file that holds it (no token is the name of a file in the
// working directory by accident: a JWT's dots and an opaque token's
// randomness make none); or from stdin when the argument is "-" or absent.
// White space and a leading auth scheme are dropped.
func readToken(args []string, stdin io.Reader) (string, error) {
	var raw string
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("one token at most, got %d arguments", len(args))
	case len(args) == 1 && args[0] != "-":
		fi, err := os.Stat(args[0])
		if err != nil || fi.IsDir() {
			raw = args[0]
			break
		}
		f, err := os.Open(args[0])
		if err != nil {
			return "", fmt.Errorf("reading the token from the file %s: %w", args[0], err)
		}
		defer f.Close()
		if raw, err = readLimited(f, "the file "+args[0]); err != nil {
			return "", err
		}
	default:
		var err error
		if raw, err = readLimited(stdin, "standard input"); err != nil {
			return "", err
		}
	}
	tok := strings.TrimSpace(raw)
	for _, scheme := range []string{"Bearer ", "DPoP "} {
		if len(tok) > len(scheme) && strings.EqualFold(tok[:len(scheme)], scheme) {
			tok = strings.TrimSpace(tok[len(scheme):])
		}
	}
	if tok == "" {
		return "", errors.New("no token: give it as the argument, or on standard input")
	}
	return tok, nil
}

// readLimited reads a token of at most maxTokenInput bytes from r.
func readLimited(r io.Reader, what string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxTokenInput+1))
	if err != nil {
		return "", fmt.Errorf("reading the token from %s: %w", what, err)
	}
	if len(b) > maxTokenInput {
		return "", fmt.Errorf("the token in %s is larger than 64 KiB", what)
	}
	return string(b), nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(s string) error {
	*m = append(*m, s)
	return nil
}
