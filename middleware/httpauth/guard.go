package httpauth

// WithStreamGuard guards every request [Middleware] lets through
// (accesstoken.Guard): when the token expires or is revoked while the
// handler runs, the request's context is done, context.Cause(ctx) is the
// *accesstoken.Error that says why, and a handler blocked reading the
// request body is unblocked (its read fails). For server-sent events, long
// polls and streamed bodies: the handler ends its response when it sees
// ctx.Done(). Off by default (a short request needs none); mcpauth turns
// it on. It has no effect on [ForwardAuth], whose answer is immediate.
func WithStreamGuard() Option {
	return optionFunc(func(c *config) { c.streamGuard = true })
}

// WithoutStreamGuard undoes [WithStreamGuard] given earlier in the options
// (mcpauth.RequireBearerToken gives it by default).
func WithoutStreamGuard() Option {
	return optionFunc(func(c *config) { c.streamGuard = false })
}
