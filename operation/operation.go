// Package operation is per-operation authorization for MCP servers (MCP
// 2026-07-28): the scopes a JSON-RPC method, tool, prompt or resource needs
// ([Rules]), the operation a request asks for, read from its JSON-RPC body
// ([Read], [Parse]) or from the Mcp-Method and Mcp-Name headers of SEP-2243
// ([FromHeaders]), the cross-check of the two ([Operation.CheckHeaders]), and
// the JSON-RPC error answering a refused body ([Error]).
//
// httpauth.WithOperationScopes, mcpauth and extauthz are built on it; use it
// directly to write the same rules into an adapter for another framework or
// gateway. It uses the standard library only.
//
// A body is accepted only when the operation read here is the one any
// server will read: exactly one JSON object whose top-level and params
// member names are unique, also when compared as encoding/json compares
// them (case-insensitively, with Unicode simple folding). Anything else (a
// batch, concatenated values, duplicate or case-variant members, a method
// that is not a string) is refused.
package operation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxBody bounds the body [Read] reads: a larger one is refused with 413.
const MaxBody = 4 << 20

// JSON-RPC error codes of a refused body.
const (
	CodeParseError     = -32700 // not one JSON value
	CodeInvalidRequest = -32600 // a batch, not an object, an ambiguous member, too large
	CodeHeaderMismatch = -32020 // MCP 2026-07-28: the Mcp-Method or Mcp-Name header disagrees with the body
)

// Operation is what a JSON-RPC request asks for.
type Operation struct {
	// Method is the JSON-RPC method ("tools/call", "resources/read", ...);
	// "" for a JSON-RPC response, which asks for nothing.
	Method string
	// Name is the tool or prompt name of tools/call and prompts/get, the
	// resource URI of resources/read, resources/subscribe and
	// resources/unsubscribe; "" for other methods or when params lacks it.
	Name string
	// ID is the request's JSON-RPC id as sent (nil for a notification),
	// for an error answer.
	ID json.RawMessage
}

// nameMember is the params member that names the operation of method, the
// one SEP-2243's Mcp-Name header repeats: "name" for tools/call and
// prompts/get, "uri" for resources/read, resources/subscribe and
// resources/unsubscribe, "" for the methods that name nothing.
func nameMember(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return "uri"
	}
	return ""
}

// Error is a refused body: the HTTP status to answer with (400, or 413 for
// a body over [MaxBody]) and the JSON-RPC error, carrying the request's id
// when it could be read.
type Error struct {
	Status  int
	Code    int
	Message string
	ID      json.RawMessage
}

func (e *Error) Error() string {
	return "operation: " + e.Message + " (JSON-RPC " + strconv.Itoa(e.Code) + ")"
}

// Response is the JSON-RPC error response answering e, to send with
// e.Status and Content-Type application/json.
func (e *Error) Response() []byte {
	id := e.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Message}})
	return body
}

// Write answers w with e: its status, a JSON-RPC error response, and
// Cache-Control no-store.
func (e *Error) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	w.Write(e.Response())
}

func refuse(status, code int, message string, id json.RawMessage) *Error {
	return &Error{Status: status, Code: code, Message: message, ID: id}
}

// Read reads the operation of a POST request from its body and checks it
// against the Mcp-Method and Mcp-Name headers ([Operation.CheckHeaders]).
// It reads at most [MaxBody] bytes and puts the body back in r.Body byte
// for byte for the handler. It returns nil and no error for a request
// without a body (any other method, or an empty POST); the error, when not
// nil, is an [*Error].
func Read(r *http.Request) (*Operation, error) {
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := readBounded(r.Body, r.ContentLength)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch {
	case err != nil:
		return nil, refuse(http.StatusBadRequest, CodeParseError, "the request body could not be read", nil)
	case len(body) > MaxBody:
		return nil, refuse(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "the request body is too large", nil)
	}
	op, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if err := op.CheckHeaders(r.Header); err != nil {
		return nil, err
	}
	return &op, nil
}

// readBounded reads at most MaxBody+1 bytes, in one allocation when the
// length is declared.
func readBounded(body io.Reader, declared int64) ([]byte, error) {
	size := 512
	if declared > 0 {
		size = int(min(declared, MaxBody)) + 1 // +1: EOF is seen without growing
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(body, MaxBody+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// CheckHeaders refuses, with code -32020, a request whose Mcp-Method or
// Mcp-Name header, when present, differs from op, whatever protocol
// version the client claims: sent twice, or naming another method or name
// (an Mcp-Name value may be SEP-2243's "=?base64?...?=" form). An Mcp-Name
// for a method that names nothing is a mismatch too.
func (op Operation) CheckHeaders(h http.Header) error {
	if vs := h.Values("Mcp-Method"); len(vs) > 0 && (len(vs) > 1 || vs[0] != op.Method) {
		return op.mismatch()
	}
	if vs := h.Values("Mcp-Name"); len(vs) > 0 {
		name, ok := headerValue(vs[0])
		if len(vs) > 1 || !ok || name != op.Name || nameMember(op.Method) == "" {
			return op.mismatch()
		}
	}
	return nil
}

func (op Operation) mismatch() *Error {
	return refuse(http.StatusBadRequest, CodeHeaderMismatch, "the Mcp-Method or Mcp-Name header does not match the body", op.ID)
}

// FromHeaders is the operation the Mcp-Method and Mcp-Name headers name,
// for a gateway that sees no body (the server behind must then refuse a
// body that disagrees). A malformed base64 Mcp-Name names nothing.
func FromHeaders(h http.Header) Operation {
	op := Operation{Method: h.Get("Mcp-Method")}
	if name, ok := headerValue(h.Get("Mcp-Name")); ok && nameMember(op.Method) != "" {
		op.Name = name
	}
	return op
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

// Rules maps operations to the scopes they need. The zero value has no
// rules; a nil *Rules is valid and has none.
type Rules struct {
	rules []rule
}

type rule struct {
	method, name string
	template     *regexp.Regexp // nil: name matches exactly
	scopes       []string
}

// Add requires scopes for an operation: method is the JSON-RPC method, name
// the tool or prompt name or the resource URI, "" for every request of that
// method. A name may be an RFC 6570 level-1 template: "{var}" matches one
// path segment, "{+var}" any text, "/" included ("file:///{+path}"). Add
// panics on an empty method or an unclosed "{", mistakes of the program.
func (r *Rules) Add(method, name string, scopes ...string) {
	if method == "" {
		panic("operation: Rules.Add with an empty method")
	}
	var tmpl *regexp.Regexp
	if strings.Contains(name, "{") {
		tmpl = compileTemplate(name)
	}
	r.rules = append(r.rules, rule{method: method, name: name, template: tmpl, scopes: append([]string(nil), scopes...)})
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
			panic("operation: unclosed \"{\" in " + t)
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

// Needs lists, once each and in order, the scopes global and every rule
// matching op require: what a token must hold for op, and what a challenge
// names. It returns global itself, not a copy, when no rule adds to it, so
// the caller must not modify the result.
func (r *Rules) Needs(global []string, op Operation) []string {
	if r == nil || op.Method == "" {
		return global
	}
	out := global
	copied := false
	for _, x := range r.rules {
		if x.method != op.Method {
			continue
		}
		switch {
		case x.name == "":
		case x.template != nil && op.Name != "" && x.template.MatchString(op.Name):
		case x.template == nil && x.name == op.Name && op.Name != "":
		default:
			continue
		}
		for _, s := range x.scopes {
			if slices.Contains(out, s) {
				continue
			}
			if !copied {
				out = append(make([]string, 0, len(global)+len(x.scopes)), global...)
				copied = true
			}
			out = append(out, s)
		}
	}
	return out
}
