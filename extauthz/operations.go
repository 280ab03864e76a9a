package extauthz

import (
	"net/http"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/tokenguard/accesstoken/operation"
)

// WithOperationScopes requires scopes for an MCP operation, with the rules
// of httpauth.WithOperationScopes: method is the JSON-RPC method, name the
// tool or prompt name or the resource URI (an RFC 6570 level-1 template
// matches too), "" for every request of that method. A request needs
// WithRequiredScopes, its WithPathScopes, its method's rule and every rule
// naming it, all at once; a token lacking any gets 403 insufficient_scope
// whose scope attribute lists them all, and a request without a token 401
// whose challenge lists them too (SEP-2350).
//
// The operation is the one the Mcp-Method and Mcp-Name headers name.
// When Envoy sends the body (the filter's with_request_body), the
// operation is read from the body instead and the headers, when present,
// must equal it whatever protocol version the client claims: a mismatch,
// a batch or an ambiguous body is denied with 400 and a JSON-RPC error
// (operation.Read's rules), after a missing or bad token (401) and before
// missing scopes (403). A body Envoy truncated (allow_partial_message) or
// one over 4 MiB is denied with 413: its operation cannot be known. Without
// the body, the MCP server behind must refuse requests whose headers and
// body disagree itself. It panics on an empty method.
func WithOperationScopes(method, name string, scopes ...string) Option {
	var probe operation.Rules
	probe.Add(method, name, scopes...) // panics here, on the caller's line
	return optionFunc(func(s *server) {
		if s.ops == nil {
			s.ops = &operation.Rules{}
		}
		s.ops.Add(method, name, scopes...)
	})
}

// operation reads what h asks for: from its body when Envoy sent one, else
// from its headers. The error, when not nil, is an *operation.Error.
func (s *server) operation(h *authv3.AttributeContext_HttpRequest) (operation.Operation, error) {
	mcp := http.Header{}
	for _, name := range [...]string{"Mcp-Method", "Mcp-Name"} {
		if vs := headerValues(h, name); len(vs) > 0 {
			mcp[name] = vs
		}
	}
	body := h.GetRawBody()
	if len(body) == 0 {
		body = []byte(h.GetBody())
	}
	if !strings.EqualFold(h.GetMethod(), http.MethodPost) || len(body) == 0 {
		if strings.Contains(header(h, "mcp-method"), ",") {
			// Two Mcp-Method fields, joined by Envoy: no method has a comma.
			return operation.Operation{}, &operation.Error{Status: http.StatusBadRequest, Code: operation.CodeHeaderMismatch, Message: "the Mcp-Method header is repeated"}
		}
		return operation.FromHeaders(mcp), nil
	}
	if len(body) > operation.MaxBody || strings.EqualFold(header(h, "x-envoy-auth-partial-body"), "true") || truncated(h, len(body)) {
		return operation.Operation{}, &operation.Error{Status: http.StatusRequestEntityTooLarge, Code: operation.CodeInvalidRequest, Message: "the request body is too large to be checked"}
	}
	op, err := operation.Parse(body)
	if err != nil {
		return op, err
	}
	if err := op.CheckHeaders(mcp); err != nil {
		return op, err
	}
	return op, nil
}

// truncated reports a body shorter than the request's Content-Length: a
// part of it, whatever Envoy says.
func truncated(h *authv3.AttributeContext_HttpRequest, n int) bool {
	cl := header(h, "content-length")
	if cl == "" {
		return false
	}
	declared, err := strconv.Atoi(cl)
	return err != nil || declared != n
}

// headerValues is every field of the header name: each entry of
// header_map (Envoy sends repeated fields as entries there when it encodes
// raw headers), else the headers map's one value, in which Envoy joined
// repeated fields with ",".
func headerValues(h *authv3.AttributeContext_HttpRequest, name string) []string {
	var vs []string
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			v := hv.GetValue()
			if v == "" {
				v = string(hv.GetRawValue())
			}
			vs = append(vs, v)
		}
	}
	if vs == nil {
		if v, ok := h.GetHeaders()[strings.ToLower(name)]; ok {
			vs = []string{v}
		}
	}
	return vs
}

// denyRPC answers a refused body with its JSON-RPC error response.
func denyRPC(e *operation.Error) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &status.Status{Code: codeInvalidArgument, Message: e.Message},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(e.Status)},
			Headers: []*corev3.HeaderValueOption{
				headerOption("Content-Type", "application/json"),
				headerOption("Cache-Control", "no-store"),
			},
			Body: string(e.Response()),
		}},
	}
}
