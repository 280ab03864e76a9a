package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

const maxTokenInput = 64 << 10

// readToken takes the token from the one argument, or from stdin when the
// argument is "-" or absent. White space and a leading auth scheme are
// dropped.
func readToken(args []string, stdin io.Reader) (string, error) {
	var raw string
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("one token at most, got %d arguments", len(args))
	case len(args) == 1 && args[0] != "-":
		raw = args[0]
	default:
		b, err := io.ReadAll(io.LimitReader(stdin, maxTokenInput+1))
		if err != nil {
			return "", fmt.Errorf("reading the token from standard input: %w", err)
		}
		if len(b) > maxTokenInput {
			return "", errors.New("the token on standard input is larger than 64 KiB")
		}
		raw = string(b)
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

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(s string) error {
	*m = append(*m, s)
	return nil
}
