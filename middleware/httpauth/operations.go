package httpauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"unicode"
)

// This file is per-operation authorization for MCP servers (MCP 2026-07-28):
// the scopes a JSON-RPC method, tool, prompt or resource needs, the operation
// read from the request body (bounded, restored byte for byte) and
// cross-checked with the Mcp-Method and Mcp-Name headers of SEP-2243, and
// the JSON-RPC errors of a refused body.

// maxOperationBody bounds the body read to find the operation: a larger
// one is refused with 413 and never passed on.
const maxOperationBody = 4 << 20

// JSON-RPC error codes of a refused body.
const (
	codeParseError     = -32700 // not one JSON value
	codeInvalidRequest = -32600 // a batch, not an object, an ambiguous member
	codeHeaderMismatch = -32020 // MCP 2026-07-28: headers and body disagree
)

// WithOperationScopes requires scopes for an MCP operation: method is the
// JSON-RPC method ("tools/call", "resources/read", "prompts/get",
// "tools/list", ...), name the tool or prompt name or the resource URI, and
// "" for every request of that method. A resource URI may be an RFC 6570
// level-1 template: "{var}" matches one path segment, "{+var}" any text,
// "/" included ("file:///{+path}"). A request needs the scopes of
// [WithRequiredScopes], of its method's rule and of every rule naming it,
// all at once: a token lacking any gets 403 insufficient_scope whose scope
// attribute lists them all, and a request without a token gets 401 whose
// challenge lists them too, so that a client steps up once (SEP-2350).
// Profile.ScopeImplies applies.
//
// [Middleware] (and mcpauth.RequireBearerToken) reads the operation from
// the JSON-RPC body of POST requests, at most 4 MiB (413 beyond, never
// passed on), and gives the handler the body byte for byte. A body that is
// not exactly one JSON object with unique member names (a batch,
// concatenated values, duplicate or case-variant members) is 400 with a
// JSON-RPC error (-32700 or -32600), and so is a body that disagrees with
// the Mcp-Method or Mcp-Name header (-32020, with the request's id) whatever
// protocol version the client claims: the server never sees an operation
// the rules did not. The order is: no or bad token 401, then a refused body
// 400, then missing scopes 403. A well-formed object without a method (a
// JSON-RPC response) needs the [WithRequiredScopes] scopes only.
//
// [ForwardAuth] sees no body: it reads the operation from the Mcp-Method
// and Mcp-Name headers the gateway forwards, so the MCP server behind it
// must itself refuse requests whose headers and body disagree (the Go SDK
// does for clients of protocol 2026-07-28 or later only; mcpauth does for
// all). It panics on an empty method.
func WithOperationScopes(method, name string, scopes ...string) Option {
	if method == "" {
		panic("httpauth.WithOperationScopes: empty method")
	}
	var tmpl *regexp.Regexp
	if strings.Contains(name, "{") {
		tmpl = compileTemplate(name)
	}
	return optionFunc(func(c *config) {
		if c.ops == nil {
			c.ops = &operationRules{}
		}
		c.ops.rules = append(c.ops.rules, operationRule{method: method, name: name, template: tmpl, scopes: scopes})
	})
}

// compileTemplate turns an RFC 6570 level-1 template into an anchored
// regular expression: literal text as is, "{var}" one path segment,
// "{+var}" anything.
func compileTemplate(t string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for t != "" {
		open := strings.IndexByte(t, '{')
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(t))
			break
		}
		end := strings.IndexByte(t[open:], '}')
		if end < 0 {
			panic("httpauth.WithOperationScopes: unclosed \"{\" in " + t)
		}
		b.WriteString(regexp.QuoteMeta(t[:open]))
		if strings.HasPrefix(t[open+1:], "+") {
			b.WriteString(".*")
		} else {
			b.WriteString("[^/]+")
		}
		t = t[open+end+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

type operationRules struct {
	rules []operationRule
}

type operationRule struct {
	method, name string
	template     *regexp.Regexp // nil: name matches exactly
	scopes       []string
}

// operation is what a request asks for.
type operation struct {
	method, name string
	id           json.RawMessage // the JSON-RPC id, for an error answer
}

// needs lists, once each and in rule order, the scopes that global and
// every rule matching op require. It returns global itself, without
// copying, when no rule adds to it: the common case on the request path.
func (o *operationRules) needs(global []string, op operation) []string {
	if o == nil || op.method == "" {
		return global
	}
	out := global
	copied := false
	for _, r := range o.rules {
		if r.method != op.method {
			continue
		}
		switch {
		case r.name == "":
		case r.template != nil && op.name != "" && r.template.MatchString(op.name):
		case r.template == nil && r.name == op.name && op.name != "":
		default:
			continue
		}
		for _, s := range r.scopes {
			if contains(out, s) {
				continue
			}
			if !copied {
				out = append(make([]string, 0, len(global)+len(r.scopes)), global...)
				copied = true
			}
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nameMember is the params member that names the operation of method
// (SEP-2243's Mcp-Name): "name" for tools and prompts, "uri" for
// resources, "" for methods that name nothing.
func nameMember(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return "uri"
	}
	return ""
}

// rpcError is a refused body: the JSON-RPC error and the HTTP status.
type rpcError struct {
	status  int
	code    int
	message string
	id      json.RawMessage
}

// readOperation reads the operation of a POST body, restoring r.Body for
// the handler; nil and no error for a request without one.
func readOperation(r *http.Request) (*operation, *rpcError) {
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOperationBody+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch {
	case err != nil:
		return nil, &rpcError{status: http.StatusBadRequest, code: codeParseError, message: "the request body could not be read"}
	case len(body) > maxOperationBody:
		return nil, &rpcError{status: http.StatusRequestEntityTooLarge, code: codeInvalidRequest, message: "the request body is too large"}
	}
	op, e := parseOperation(body)
	if e != nil {
		return nil, e
	}
	return op, checkHeaders(r.Header, op)
}

var (
	errDuplicate = errors.New("a member appears twice")
	errNotString = errors.New("a member is not a string")
)

// parseOperation reads exactly one JSON object whose top-level members and
// params members are unique, also ignoring case (encoding/json, which MCP
// servers decode with, matches names case-insensitively): so the method and
// name read here are the ones the server will read.
func parseOperation(body []byte) (*operation, *rpcError) {
	if !json.Valid(body) {
		return nil, &rpcError{status: http.StatusBadRequest, code: codeParseError, message: "the body is not one JSON value"}
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case trimmed[0] == '[':
		return nil, &rpcError{status: http.StatusBadRequest, code: codeInvalidRequest, message: "batches are not accepted"}
	case trimmed[0] != '{':
		return nil, &rpcError{status: http.StatusBadRequest, code: codeInvalidRequest, message: "the body is not a JSON-RPC object"}
	}
	op := &operation{}
	var name string
	var hasName bool
	var params json.RawMessage
	err := walkObject(body, func(key string, dec *json.Decoder) error {
		switch key {
		case "method":
			return decodeString(dec, &op.method)
		case "id":
			return dec.Decode(&op.id)
		case "params":
			return dec.Decode(&params)
		}
		var skip json.RawMessage
		return dec.Decode(&skip)
	})
	if err == nil && op.method != "" && len(params) > 0 && bytes.TrimLeft(params, " \t\r\n")[0] == '{' {
		member := nameMember(op.method)
		err = walkObject(params, func(key string, dec *json.Decoder) error {
			if key == member {
				hasName = true
				return decodeString(dec, &name)
			}
			var skip json.RawMessage
			return dec.Decode(&skip)
		})
	}
	if err != nil {
		return nil, &rpcError{status: http.StatusBadRequest, code: codeInvalidRequest, message: "the JSON-RPC request is ambiguous or malformed", id: op.id}
	}
	if hasName {
		op.name = name
	}
	return op, nil
}

// walkObject calls member for each member of the JSON object doc, with the
// decoder positioned at its value (which member must consume), and fails on
// a name seen before, also in another case.
func walkObject(doc []byte, member func(key string, dec *json.Decoder) error) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		folded := foldName(key)
		if seen[folded] {
			return errDuplicate
		}
		seen[folded] = true
		if key != folded {
			// "Method", "PARAMS", "paramſ": a member the server's decoder
			// may take for the one read here, or not.
			switch folded {
			case "method", "params", "id", "jsonrpc", "name", "uri":
				return errDuplicate
			}
		}
		if err := member(key, dec); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing brace
	return err
}

// foldName maps a member name to one spelling per case-insensitive class,
// with Unicode's simple folding as encoding/json matches names ("ſ" and "s",
// the Kelvin sign and "k" fall together): each rune becomes the smallest of
// its folding orbit, and ASCII letters their lower case.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		if min >= 'A' && min <= 'Z' {
			min += 'a' - 'A'
		}
		b.WriteRune(min)
	}
	return b.String()
}

func decodeString(dec *json.Decoder, s *string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, s); err != nil {
		return errNotString
	}
	return nil
}

// checkHeaders refuses a request whose Mcp-Method or Mcp-Name header,
// when present, differs from its body (SEP-2243), whatever
// MCP-Protocol-Version says.
func checkHeaders(h http.Header, op *operation) *rpcError {
	mismatch := &rpcError{status: http.StatusBadRequest, code: codeHeaderMismatch, message: "the Mcp-Method or Mcp-Name header does not match the body", id: op.id}
	if vs := h.Values("Mcp-Method"); len(vs) > 0 && (len(vs) > 1 || vs[0] != op.method) {
		return mismatch
	}
	if vs := h.Values("Mcp-Name"); len(vs) > 0 {
		name, ok := headerValue(vs[0])
		if len(vs) > 1 || !ok || name != op.name || nameMember(op.method) == "" {
			return mismatch
		}
	}
	return nil
}

// headerValue decodes an Mcp-Name value: as sent, or the "=?base64?...?="
// form SEP-2243 uses for text a header cannot carry.
func headerValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// headerOperation is the operation the Mcp-Method and Mcp-Name headers name,
// for ForwardAuth, which sees no body.
func headerOperation(h http.Header) operation {
	op := operation{method: h.Get("Mcp-Method")}
	if name, ok := headerValue(h.Get("Mcp-Name")); ok && nameMember(op.method) != "" {
		op.name = name
	}
	return op
}

// writeRPCError answers a refused body with a JSON-RPC error response.
func writeRPCError(w http.ResponseWriter, e *rpcError) {
	id := e.id
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": e.code, "message": e.message},
	})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	w.Write(body)
}
