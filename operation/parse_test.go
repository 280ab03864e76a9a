package operation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, body string
		method     string // want, when code == 0
		opName     string
		id         string
		code       int
	}{
		{"tool", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"push","arguments":{"name":"x"}}}`, "tools/call", "push", "7", 0},
		{"resource", `{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"file:///etc/hosts"}}`, "resources/read", "file:///etc/hosts", `"a"`, 0},
		{"prompt", ` {"method":"prompts/get","params":{"name":"review"},"id":null} `, "prompts/get", "review", "null", 0},
		{"list", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "tools/list", "", "1", 0},
		{"name of a method naming nothing", `{"id":1,"method":"tools/list","params":{"name":"push"}}`, "tools/list", "", "1", 0},
		{"response", `{"jsonrpc":"2.0","id":1,"result":{}}`, "", "", "1", 0},
		{"escaped value", `{"id":1,"method":"tools\/call","params":{"name":"p\u0075sh"}}`, "tools/call", "push", "1", 0},
		{"invalid UTF-8 value", "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}", "tools/call", "a\ufffdb", "1", 0},
		{"nested look-alikes", `{"id":1,"method":"tools/call","params":{"name":"push","arguments":{"name":"delete","Name":"x","method":"y"}},"meta":{"method":"z"}}`, "tools/call", "push", "1", 0},
		{"string with braces", `{"id":"}{\"","method":"tools/call","params":{"arguments":{"q":"]}\\"},"name":"push"}}`, "tools/call", "push", `"}{\""`, 0},
		{"many members", `{"id":1,"method":"tools/call","params":{` + manyMembers(100) + `,"name":"push"}}`, "tools/call", "push", "1", 0},

		{"not JSON", `{"method":`, "", "", "", CodeParseError},
		{"two values", `{"method":"tools/list"}{"method":"tools/call"}`, "", "", "", CodeParseError},
		{"batch", `[{"method":"tools/list"}]`, "", "", "", CodeInvalidRequest},
		{"string", `"tools/call"`, "", "", "", CodeInvalidRequest},
		{"duplicate method", `{"id":1,"method":"tools/list","method":"tools/call"}`, "", "", "1", CodeInvalidRequest},
		{"case variant", `{"id":1,"method":"tools/list","Method":"tools/call"}`, "", "", "1", CodeInvalidRequest},
		{"case variant alone", `{"id":1,"METHOD":"tools/call"}`, "", "", "1", CodeInvalidRequest},
		{"long s", `{"id":1,"method":"tools/call","params":{"name":"a"},"paramſ":{"name":"b"}}`, "", "", "1", CodeInvalidRequest},
		{"kelvin", `{"id":1,"method":"tools/call","params":{"name":"a","kind":1,"\u212Aind":2}}`, "", "", "1", CodeInvalidRequest},
		{"escaped member name", `{"id":1,"\u006dethod":"tools/call"}`, "", "", "1", CodeInvalidRequest},
		{"duplicate name", `{"id":1,"method":"tools/call","params":{"name":"a","name":"b"}}`, "", "", "1", CodeInvalidRequest},
		{"duplicate among many", `{"id":1,"method":"tools/list","params":{` + manyMembers(100) + `,"m7":1}}`, "", "", "1", CodeInvalidRequest},
		{"duplicate other member", `{"id":1,"method":"tools/list","x":1,"x":2}`, "", "", "1", CodeInvalidRequest},
		{"method not a string", `{"id":1,"method":["tools/call"]}`, "", "", "1", CodeInvalidRequest},
		{"name not a string", `{"id":1,"method":"tools/call","params":{"name":{"x":1}}}`, "", "", "1", CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := Parse([]byte(c.body))
			if c.code != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Code != c.code || e.Status != 400 {
					t.Fatalf("Parse = %+v, %v; want JSON-RPC error %d", op, err, c.code)
				}
				if string(e.ID) != c.id {
					t.Errorf("error id = %s, want %s", e.ID, c.id)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if op.Method != c.method || op.Name != c.opName || string(op.ID) != c.id {
				t.Errorf("Parse = %q %q %s, want %q %q %s", op.Method, op.Name, op.ID, c.method, c.opName, c.id)
			}
		})
	}
}

func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d":%d`, i, i)
	}
	return b.String()
}

// serverView is what an MCP server decoding with encoding/json reads.
type serverView struct {
	Method string `json:"method"`
	Params struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	} `json:"params"`
}

// FuzzParse holds Parse to its promise: whatever it accepts, a server
// decoding the same body with encoding/json reads the same method and name
// (the rules were applied to what the server will run), and it never
// panics or hangs on any input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"push"}}`,
		`{"method":"resources/read","params":{"uri":"file:///x"}}`,
		`{"id":1,"method":"tools/list","Method":"tools/call"}`,
		`{"id":1,"method":"tools/call","params":{"name":"a","na\u212Ae":"b"}}`,
		`{"method":"tools\/call","params":{"name":"p\u0075sh","arguments":{"a":[1,{"b":"}"}]}}}`,
		`[{"method":"x"}]`, `{}`, ` 1 `, `{"a":{"b":{"c":[[[]]]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		op, err := Parse(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *Error", err)
			}
			return
		}
		var v serverView
		if err := json.Unmarshal(body, &v); err != nil {
			// A valid object whose params is not an object, or whose
			// method is null, fails to decode into the struct; the server
			// answers it with an error, running nothing.
			return
		}
		if v.Method != op.Method {
			t.Fatalf("Parse read method %q, encoding/json %q, in %q", op.Method, v.Method, body)
		}
		want := ""
		switch nameMember(op.Method) {
		case "name":
			want = v.Params.Name
		case "uri":
			want = v.Params.URI
		}
		if want != op.Name {
			t.Fatalf("Parse read name %q, encoding/json %q, in %q", op.Name, want, body)
		}
		// A reference reader built on encoding/json's tokenizer accepts
		// everything Parse does.
		if _, ok := referenceParse(body); !ok {
			t.Fatalf("Parse accepted %q, the reference refuses it", body)
		}
	})
}

// referenceParse walks the body with encoding/json's Decoder.Token: one
// object, unique folded member names at the top and in params.
func referenceParse(body []byte) (Operation, bool) {
	if !json.Valid(body) || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return Operation{}, false
	}
	var op Operation
	var params json.RawMessage
	walk := func(doc []byte, f func(string, *json.Decoder) error) error {
		dec := json.NewDecoder(bytes.NewReader(doc))
		if _, err := dec.Token(); err != nil {
			return err
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			k := foldName(tok.(string))
			if seen[k] {
				return errors.New("duplicate")
			}
			seen[k] = true
			if err := f(tok.(string), dec); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(body, func(k string, dec *json.Decoder) error {
		switch k {
		case "method":
			return dec.Decode(&op.Method)
		case "params":
			return dec.Decode(&params)
		}
		var skip json.RawMessage
		return dec.Decode(&skip)
	})
	if err == nil && op.Method != "" && len(params) > 0 && bytes.TrimLeft(params, " \t\r\n")[0] == '{' {
		err = walk(params, func(k string, dec *json.Decoder) error {
			if want := nameMember(op.Method); want != "" && k == want {
				return dec.Decode(&op.Name)
			}
			var skip json.RawMessage
			return dec.Decode(&skip)
		})
	}
	return op, err == nil
}
