// Package jsonpointer parses JSON Pointers (RFC 6901) and resolves them in
// decoded JSON. The core resolves them in raw JSON itself, without
// decoding; both share the parser, so both read a pointer alike.
package jsonpointer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parse splits an RFC 6901 pointer into its unescaped reference tokens. The
// empty pointer (the whole document) is refused: callers point at a member.
func Parse(p string) ([]string, error) {
	if p == "" {
		return nil, errors.New(`"" points at the whole payload, not at a claim`)
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("%q does not start with \"/\" (JSON Pointers look like \"/realm_access/roles\")", p)
	}
	var out []string
	for _, tok := range strings.Split(p[1:], "/") {
		var b strings.Builder
		for i := 0; i < len(tok); i++ {
			if tok[i] != '~' {
				b.WriteByte(tok[i])
				continue
			}
			if i+1 == len(tok) || (tok[i+1] != '0' && tok[i+1] != '1') {
				return nil, fmt.Errorf("%q: \"~\" must be followed by 0 or 1 (RFC 6901 §3: \"~0\" is \"~\", \"~1\" is \"/\")", p)
			}
			b.WriteByte("~/"[tok[i+1]-'0'])
			i++
		}
		out = append(out, b.String())
	}
	return out, nil
}

// Index reads an array index token: decimal digits without leading zeros
// (RFC 6901 §4), at most 9999.
func Index(tok string) (int, bool) {
	if tok == "" || len(tok) > 4 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
		n = n*10 + int(tok[i]-'0')
	}
	return n, true
}

// Get resolves tokens in a document decoded by encoding/json.
func Get(doc any, tokens []string) (any, bool) {
	cur := doc
	for _, tok := range tokens {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, ok := Index(tok)
			if !ok || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Text renders a resolved value for a header: a string as is, a number or
// boolean as JSON text, an array of strings space-separated with " " and
// "%" percent-encoded in items; "" for anything else.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		escape := strings.NewReplacer("%", "%25", " ", "%20")
		var items []string
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				return ""
			}
			items = append(items, escape.Replace(s))
		}
		return strings.Join(items, " ")
	}
	return ""
}
