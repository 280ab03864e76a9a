package accesstoken

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the strict JSON reader used for everything an attacker
// shapes: JOSE headers, JWT payloads, JWKS documents and introspection
// answers.
//
// encoding/json is lenient in ways that create parser differentials between
// us and the authorization server: it keeps the last of two members with the
// same name, matches struct fields case-insensitively ({"iss":"a","ISS":"b"}
// yields "b"), and replaces invalid UTF-8 and lone surrogates with U+FFFD.
// The reader below rejects all of those, so that a document means one thing
// to every reader that accepts it. Values are then taken by exact member name.

const maxJSONDepth = 32

var (
	errJSONSyntax    = errors.New("malformed JSON")
	errJSONDuplicate = errors.New("duplicate JSON member name")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONNotObject = errors.New("JSON value is not an object")
	errJSONType      = errors.New("JSON value has the wrong type")
	errJSONRange     = errors.New("JSON number out of range")
	errJSONTooLong   = errors.New("JSON array too long")
)

// jsonMember is one member of a JSON object: the decoded name and the raw,
// already validated, value.
type jsonMember struct {
	name  []byte // decoded; switch on string(name) costs no allocation
	value []byte
}

// parseObject validates data as a single JSON object (with optional
// surrounding white space) and returns its top-level members in order. The
// whole document is validated, nested values included: duplicate names at any
// depth, invalid UTF-8, lone surrogates and nesting deeper than maxJSONDepth
// are errors.
func parseObject(data []byte) ([]jsonMember, error) {
	return parseObjectInto(data, nil)
}

// parseObjectInto is parseObject appending the members to buf, so that a
// caller on the hot path can keep them on its stack.
func parseObjectInto(data []byte, buf []jsonMember) ([]jsonMember, error) {
	p := jsonParser{data: data}
	p.skipSpace()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return nil, errJSONNotObject
	}
	if buf == nil {
		buf = make([]jsonMember, 0, 16)
	}
	members, err := p.object(buf[:0], true)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, errJSONSyntax
	}
	return members, nil
}

type jsonParser struct {
	data  []byte
	pos   int
	depth int
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() error {
	if p.pos >= len(p.data) {
		return errJSONSyntax
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		_, err := p.object(nil, false)
		return err
	case c == '[':
		return p.array()
	case c == '"':
		_, _, err := p.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return errJSONSyntax
	}
}

func (p *jsonParser) literal(lit string) error {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return errJSONSyntax
	}
	p.pos += len(lit)
	return nil
}

// object parses an object starting at '{'. When collect is set it appends the
// members to members and returns them; otherwise it only validates
// (duplicates are still rejected).
func (p *jsonParser) object(members []jsonMember, collect bool) ([]jsonMember, error) {
	p.depth++
	if p.depth > maxJSONDepth {
		return nil, errJSONDepth
	}
	defer func() { p.depth-- }()
	p.pos++ // '{'

	var small [16][]byte
	names := small[:0]           // names seen so far, for small objects
	var seen map[string]struct{} // for large ones
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return members, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, errJSONSyntax
		}
		raw, escaped, err := p.str()
		if err != nil {
			return nil, err
		}
		name := raw[1 : len(raw)-1]
		if escaped {
			name = unescapeJSON(raw)
		}
		if seen != nil {
			if _, dup := seen[string(name)]; dup {
				return nil, errJSONDuplicate
			}
			seen[string(name)] = struct{}{}
		} else {
			for _, n := range names {
				if string(n) == string(name) {
					return nil, errJSONDuplicate
				}
			}
			names = append(names, name)
			if len(names) == len(small) {
				seen = make(map[string]struct{}, 2*len(names))
				for _, n := range names {
					seen[string(n)] = struct{}{}
				}
			}
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, errJSONSyntax
		}
		p.pos++
		p.skipSpace()
		start := p.pos
		if err := p.value(); err != nil {
			return nil, err
		}
		if collect {
			members = append(members, jsonMember{name: name, value: p.data[start:p.pos]})
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, errJSONSyntax
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return members, nil
		default:
			return nil, errJSONSyntax
		}
	}
}

func (p *jsonParser) array() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return errJSONDepth
	}
	defer func() { p.depth-- }()
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return nil
	}
	for {
		p.skipSpace()
		if err := p.value(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return errJSONSyntax
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// str scans a string starting at '"' and returns its raw bytes, quotes
// included, and whether it holds any escape.
func (p *jsonParser) str() (raw []byte, escaped bool, err error) {
	start := p.pos
	p.pos++ // opening quote
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.data[start:p.pos], escaped, nil
		case c == '\\':
			escaped = true
			if p.pos+1 >= len(p.data) {
				return nil, false, errJSONSyntax
			}
			switch p.data[p.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos += 2
			case 'u':
				r, ok := hex4(p.data, p.pos+2)
				if !ok {
					return nil, false, errJSONSyntax
				}
				p.pos += 6
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low
					// surrogate; anything else is a lone surrogate.
					if r >= 0xDC00 || p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return nil, false, errJSONSyntax
					}
					r2, ok := hex4(p.data, p.pos+2)
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return nil, false, errJSONSyntax
					}
					p.pos += 6
				}
			default:
				return nil, false, errJSONSyntax
			}
		case c < 0x20:
			return nil, false, errJSONSyntax
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, errJSONSyntax
			}
			p.pos += size
		}
	}
	return nil, false, errJSONSyntax
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

func (p *jsonParser) number() error {
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return errJSONSyntax
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return errJSONSyntax
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return errJSONSyntax
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	return nil
}

// unescapeJSON decodes a raw JSON string (quotes included) that the parser
// has already validated.
func unescapeJSON(raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(s, i+2)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out
}

// The helpers below read one validated value of a given type. Each fails
// with errJSONType when the value has another JSON type; null is never taken
// as an absent value.

func jsonString(v []byte) (string, error) {
	b, err := jsonStringBytes(v)
	return string(b), err
}

// jsonStringBytes reads a string without copying it when it has no escapes.
func jsonStringBytes(v []byte) ([]byte, error) {
	if len(v) < 2 || v[0] != '"' {
		return nil, errJSONType
	}
	if bytes.IndexByte(v, '\\') >= 0 {
		return unescapeJSON(v), nil
	}
	return v[1 : len(v)-1], nil
}

// jsonArray splits a validated JSON array into its raw items, refusing more
// than limit of them.
func jsonArray(v []byte, limit int) ([][]byte, error) {
	if len(v) == 0 || v[0] != '[' {
		return nil, errJSONType
	}
	p := jsonParser{data: v, pos: 1}
	var items [][]byte
	p.skipSpace()
	if p.pos < len(v) && v[p.pos] == ']' {
		return items, nil
	}
	for {
		if len(items) == limit {
			return nil, errJSONTooLong
		}
		p.skipSpace()
		start := p.pos
		if err := p.value(); err != nil {
			return nil, err
		}
		items = append(items, v[start:p.pos])
		p.skipSpace()
		if p.pos >= len(v) {
			return nil, errJSONSyntax
		}
		if v[p.pos] == ']' {
			return items, nil
		}
		p.pos++ // ','
	}
}

// jsonStrings reads an array of strings.
func jsonStrings(v []byte) ([]string, error) {
	items, err := jsonArray(v, -1)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, item := range items {
		if out[i], err = jsonString(item); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// jsonStringOrStrings reads a string or an array of strings, as "aud" and
// "scp" allow.
func jsonStringOrStrings(v []byte) ([]string, error) {
	if len(v) > 0 && v[0] == '"' {
		s, err := jsonString(v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	return jsonStrings(v)
}

// maxNumericDate is 9999-12-31T23:59:59Z. A NumericDate outside
// [0, maxNumericDate] is rejected rather than clamped or wrapped.
const maxNumericDate = 253402300799

// jsonNumericDate reads an RFC 7519 NumericDate: a JSON number of seconds
// since the epoch, possibly with a fraction.
func jsonNumericDate(v []byte) (time.Time, error) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return time.Time{}, errJSONType
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return time.Time{}, errJSONRange
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
