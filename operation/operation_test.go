package operation_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tokenguard/accesstoken/operation"
)

func TestRulesNeeds(t *testing.T) {
	var r operation.Rules
	r.Add("tools/call", "", "tools")
	r.Add("tools/call", "delete_repo", "repo:admin", "tools")
	r.Add("resources/read", "file:///{+path}", "files:read")
	r.Add("resources/read", "repo://{owner}/readme", "repo:read")
	r.Add("tools/list", "", "mcp") // already global: listed once
	global := []string{"mcp"}
	cases := []struct {
		op   operation.Operation
		want []string
	}{
		{operation.Operation{Method: "tools/call", Name: "delete_repo"}, []string{"mcp", "tools", "repo:admin"}},
		{operation.Operation{Method: "tools/call", Name: "other"}, []string{"mcp", "tools"}},
		{operation.Operation{Method: "tools/call"}, []string{"mcp", "tools"}},
		{operation.Operation{Method: "tools/list"}, []string{"mcp"}},
		{operation.Operation{Method: "resources/read", Name: "file:///etc/ssh/key"}, []string{"mcp", "files:read"}},
		{operation.Operation{Method: "resources/read", Name: "repo://octo/readme"}, []string{"mcp", "repo:read"}},
		{operation.Operation{Method: "resources/read", Name: "repo://octo/x/readme"}, []string{"mcp"}}, // {owner} is one segment
		{operation.Operation{Method: "resources/read", Name: "repo://octo/readme2"}, []string{"mcp"}},  // anchored
		{operation.Operation{Method: "resources/read", Name: "xfile:///a"}, []string{"mcp"}},
		{operation.Operation{}, []string{"mcp"}}, // a response
	}
	for _, c := range cases {
		if got := r.Needs(global, c.op); !slices.Equal(got, c.want) {
			t.Errorf("Needs(%+v) = %q, want %q", c.op, got, c.want)
		}
	}
	if got := r.Needs(global, operation.Operation{Method: "tools/list"}); &got[0] != &global[0] {
		t.Error("Needs copied global although no rule added to it")
	}
	var none *operation.Rules
	if got := none.Needs(global, operation.Operation{Method: "tools/call"}); !slices.Equal(got, global) {
		t.Errorf("nil Rules: %q", got)
	}
	for _, bad := range []func(){func() { r.Add("", "x") }, func() { r.Add("resources/read", "file:///{path") }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Add did not panic")
				}
			}()
			bad()
		}()
	}
}

func TestCheckHeaders(t *testing.T) {
	op := operation.Operation{Method: "tools/call", Name: "naïve tool", ID: json.RawMessage(`42`)}
	b64 := "=?base64?" + base64.StdEncoding.EncodeToString([]byte("naïve tool")) + "?="
	cases := []struct {
		name    string
		headers map[string][]string
		ok      bool
	}{
		{"none", nil, true},
		{"equal", map[string][]string{"Mcp-Method": {"tools/call"}, "Mcp-Name": {b64}}, true},
		{"method only", map[string][]string{"Mcp-Method": {"tools/call"}}, true},
		{"other method", map[string][]string{"Mcp-Method": {"tools/list"}}, false},
		{"other name", map[string][]string{"Mcp-Name": {"=?base64?" + base64.StdEncoding.EncodeToString([]byte("rm")) + "?="}}, false},
		{"twice", map[string][]string{"Mcp-Method": {"tools/call", "tools/call"}}, false},
		{"bad base64", map[string][]string{"Mcp-Name": {"=?base64?***?="}}, false},
		{"unterminated", map[string][]string{"Mcp-Name": {"=?base64?bmFtZQ=="}}, false},
		{"empty name", map[string][]string{"Mcp-Name": {""}}, false},
	}
	for _, c := range cases {
		err := op.CheckHeaders(http.Header(c.headers))
		if c.ok != (err == nil) {
			t.Errorf("%s: CheckHeaders = %v", c.name, err)
			continue
		}
		var e *operation.Error
		if err != nil && (!errors.As(err, &e) || e.Code != operation.CodeHeaderMismatch || string(e.ID) != "42" || e.Status != 400) {
			t.Errorf("%s: %+v", c.name, err)
		}
	}
	list := operation.Operation{Method: "tools/list"}
	if list.CheckHeaders(http.Header{"Mcp-Name": {""}}) == nil {
		t.Error("an Mcp-Name for a method that names nothing passed")
	}
}

func TestFromHeaders(t *testing.T) {
	h := http.Header{"Mcp-Method": {"resources/read"}, "Mcp-Name": {"=?base64?" + base64.StdEncoding.EncodeToString([]byte("file:///a b")) + "?="}}
	if op := operation.FromHeaders(h); op.Method != "resources/read" || op.Name != "file:///a b" {
		t.Errorf("FromHeaders = %+v", op)
	}
	h = http.Header{"Mcp-Method": {"tools/list"}, "Mcp-Name": {"push"}}
	if op := operation.FromHeaders(h); op.Method != "tools/list" || op.Name != "" {
		t.Errorf("FromHeaders = %+v, want no name for tools/list", op)
	}
}

func TestRead(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"push"}}`
	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
	r.Header.Set("Mcp-Name", "push")
	op, err := operation.Read(r)
	if err != nil || op == nil || op.Method != "tools/call" || op.Name != "push" {
		t.Fatalf("Read = %+v, %v", op, err)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != body {
		t.Errorf("body after Read = %q", got)
	}

	r = httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
	r.ContentLength = -1 // chunked: no declared length
	r.Header.Set("Mcp-Name", "delete")
	if _, err := operation.Read(r); !isCode(err, operation.CodeHeaderMismatch, 400) {
		t.Errorf("mismatch: %v", err)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != body {
		t.Errorf("body after a refusal = %q", got)
	}

	for _, m := range []string{"GET", "DELETE"} {
		if op, err := operation.Read(httptest.NewRequest(m, "/mcp", nil)); op != nil || err != nil {
			t.Errorf("%s: %+v, %v", m, op, err)
		}
	}

	big := `{"method":"tools/call","params":{"name":"x","pad":"` + strings.Repeat("a", operation.MaxBody) + `"}}`
	r = httptest.NewRequest("POST", "/mcp", strings.NewReader(big))
	if _, err := operation.Read(r); !isCode(err, operation.CodeInvalidRequest, 413) {
		t.Errorf("large body: %v", err)
	}
	r = httptest.NewRequest("POST", "/mcp", strings.NewReader(big))
	r.ContentLength = 10 // a lie does not lift the bound
	if _, err := operation.Read(r); !isCode(err, operation.CodeInvalidRequest, 413) {
		t.Errorf("large body, short length: %v", err)
	}

	r = httptest.NewRequest("POST", "/mcp", iotest.TimeoutReader(strings.NewReader(body)))
	r.ContentLength = -1
	if _, err := operation.Read(r); !isCode(err, operation.CodeParseError, 400) {
		t.Errorf("failing body: %v", err)
	}
}

func isCode(err error, code, status int) bool {
	var e *operation.Error
	return errors.As(err, &e) && e.Code == code && e.Status == status
}

func TestErrorWrite(t *testing.T) {
	w := httptest.NewRecorder()
	(&operation.Error{Status: 400, Code: -32020, Message: "m", ID: json.RawMessage(`"x"`)}).Write(w)
	if w.Code != 400 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Write: %d %v", w.Code, w.Header())
	}
	if got := w.Body.String(); got != `{"jsonrpc":"2.0","id":"x","error":{"code":-32020,"message":"m"}}` {
		t.Errorf("Write body %s", got)
	}
	if got := string((&operation.Error{Code: -32600, Message: "m"}).Response()); got != `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}` {
		t.Errorf("Response without id: %s", got)
	}
}

// Per-operation scopes in an adapter of one's own: read the operation,
// refuse a bad body, then ask the token for every scope the operation
// needs.
func Example() {
	var rules operation.Rules
	rules.Add("tools/call", "delete_repo", "repo:admin")
	rules.Add("resources/read", "file:///{+path}", "files:read")

	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo"}}`))
	r.Header.Set("Mcp-Method", "tools/call")
	r.Header.Set("Mcp-Name", "delete_repo")
	op, err := operation.Read(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rules.Needs([]string{"mcp"}, *op))

	r = httptest.NewRequest("POST", "/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_repo"}}`))
	r.Header.Set("Mcp-Name", "list_repos") // what a gateway trusting the header saw
	_, err = operation.Read(r)
	fmt.Println(err)
	// Output:
	// [mcp repo:admin]
	// operation: the Mcp-Method or Mcp-Name header does not match the body (JSON-RPC -32020)
}
