package operation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse reads the operation of a JSON-RPC request body. The error, when not
// nil, is an [*Error] (status 400): -32700 when body is not one JSON value,
// -32600 for a batch, a value that is not an object, a duplicate or
// case-variant member name in the object or its params, or a method or
// name that is not a string. A well-formed object without a method (a
// JSON-RPC response) gives an Operation with an empty Method.
func Parse(body []byte) (Operation, error) {
	// json.Valid first: the scanner below then walks text known to be one
	// well-formed JSON value and needs to check nothing but member names.
	if !json.Valid(body) {
		return Operation{}, refuse(http.StatusBadRequest, CodeParseError, "the body is not one JSON value", nil)
	}
	i := skipSpace(body, 0)
	switch body[i] {
	case '{':
	case '[':
		return Operation{}, refuse(http.StatusBadRequest, CodeInvalidRequest, "batches are not accepted", nil)
	default:
		return Operation{}, refuse(http.StatusBadRequest, CodeInvalidRequest, "the body is not a JSON-RPC object", nil)
	}
	var op Operation
	var params []byte
	var method []byte
	ok := members(body, i, func(key, value []byte) bool {
		switch string(key) {
		case `"method"`:
			method = value
		case `"id"`:
			op.ID = value
		case `"params"`:
			params = value
		}
		return true
	})
	var name []byte
	if ok && method != nil {
		var good bool
		if op.Method, good = stringValue(method); !good {
			ok = false
		}
	}
	if ok && op.Method != "" && len(params) > 0 && params[0] == '{' {
		want := nameMember(op.Method)
		ok = members(params, 0, func(key, value []byte) bool {
			if want != "" && len(key) == len(want)+2 && string(key[1:len(key)-1]) == want {
				name = value
			}
			return true
		})
	}
	if ok && name != nil {
		var good bool
		if op.Name, good = stringValue(name); !good {
			ok = false
		}
	}
	if !ok {
		return Operation{}, refuse(http.StatusBadRequest, CodeInvalidRequest, "the JSON-RPC request is ambiguous or malformed", op.ID)
	}
	return op, nil
}

// members calls f with the raw name (quotes included, escapes as sent) and
// raw value of each member of the object at doc[i], which must be valid
// JSON, and reports false when a member name repeats, also as
// encoding/json would match it, or when f does. A name that is an escaped
// or differently cased spelling of a JSON-RPC member ("Method", "paramſ",
// "\u006dethod") is refused too: a server decoding with an exact-match
// decoder and one decoding with encoding/json would read different things.
func members(doc []byte, i int, f func(key, value []byte) bool) bool {
	var small [16][]byte // folded names seen, while they are few
	seen := small[:0]
	var many map[string]struct{}
	i++ // '{'
	for {
		i = skipSpace(doc, i)
		if doc[i] == '}' {
			return true
		}
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		end := skipString(doc, i)
		key := doc[i:end]
		i = skipSpace(doc, end) + 1 // ':'
		i = skipSpace(doc, i)
		vend := skipValue(doc, i)
		folded, plain := foldKey(key)
		if !plain {
			switch string(folded) {
			case "method", "params", "id", "jsonrpc", "name", "uri":
				return false
			}
		}
		if many != nil {
			if _, dup := many[string(folded)]; dup {
				return false
			}
			many[string(folded)] = struct{}{}
		} else {
			for _, s := range seen {
				if bytes.Equal(s, folded) {
					return false
				}
			}
			seen = append(seen, folded)
			if len(seen) > 32 { // past a few dozen, linear search would be quadratic
				many = make(map[string]struct{}, 64)
				for _, s := range seen {
					many[string(s)] = struct{}{}
				}
			}
		}
		if !f(key, doc[i:vend]) {
			return false
		}
		i = vend
	}
}

// foldKey returns the name of the raw JSON string key in one spelling per
// class of names encoding/json matches to each other, and whether key was
// already that spelling, as sent, without escapes: the common case, where
// the result is the key's own bytes (no allocation).
func foldKey(key []byte) (folded []byte, plain bool) {
	inner := key[1 : len(key)-1]
	plain = true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return inner, true
	}
	var s string
	if json.Unmarshal(key, &s) != nil { // cannot fail on valid JSON
		return inner, false
	}
	return []byte(foldName(s)), false
}

// foldName maps a member name to one spelling per case-insensitive class,
// with Unicode's simple folding as encoding/json matches names ("ſ" and "s",
// the Kelvin sign and "k" fall together): each rune becomes the smallest of
// its folding orbit, and ASCII letters their lower case.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < least {
				least = f
			}
		}
		if least >= 'A' && least <= 'Z' {
			least += 'a' - 'A'
		}
		b.WriteRune(least)
	}
	return b.String()
}

// stringValue decodes a raw JSON value that must be a string, as
// encoding/json does (escapes, invalid UTF-8 as U+FFFD).
func stringValue(raw []byte) (string, bool) {
	if raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}
