package httpauth

import "github.com/tokenguard/accesstoken/operation"

// This file is per-operation authorization for MCP servers (MCP 2026-07-28),
// built on package operation: the rules, the operation read from the
// request body (bounded, restored byte for byte) and cross-checked with the
// Mcp-Method and Mcp-Name headers of SEP-2243, and the JSON-RPC errors of a
// refused body.

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
	var probe operation.Rules
	probe.Add(method, name, scopes...) // panics now, on the line that is wrong
	return optionFunc(func(c *config) {
		if c.ops == nil {
			c.ops = &operation.Rules{}
		}
		c.ops.Add(method, name, scopes...)
	})
}
