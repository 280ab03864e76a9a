package httpauth

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/tokenguard/accesstoken"
)

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

// guard gives r the context of accesstoken.Guard for its claims, and, when
// the token ends, unblocks a read of the request body under way; stop ends
// that watch when the handler returns.
func guard(w http.ResponseWriter, r *http.Request, v accesstoken.TokenValidator) (_ *http.Request, stop func() bool) {
	claims, ok := accesstoken.FromContext(r.Context())
	if !ok {
		return r, func() bool { return false }
	}
	ctx := accesstoken.Guard(r.Context(), v, claims)
	if ctx == r.Context() {
		return r, func() bool { return false }
	}
	var mu sync.Mutex
	returned := false
	after := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if _, ended := context.Cause(ctx).(*accesstoken.Error); ended && !returned {
			// Fails when the server does not support deadlines; the
			// handler still sees the context. Never after the handler
			// returned: the ResponseWriter is gone then.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		}
	})
	return r.WithContext(ctx), func() bool {
		mu.Lock()
		returned = true
		mu.Unlock()
		return after()
	}
}
