package httpauth

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
// the token ends, unblocks a read of the request body under way (never on
// a connection the handler hijacked, a WebSocket: it has its own protocol
// to end with); release ends that watch when the handler returns.
func guard(w http.ResponseWriter, r *http.Request, v accesstoken.TokenValidator) (http.ResponseWriter, *http.Request, func()) {
	claims, ok := accesstoken.FromContext(r.Context())
	if !ok {
		return w, r, func() {}
	}
	ctx := accesstoken.Guard(r.Context(), v, claims)
	if ctx == r.Context() {
		return w, r, func() {}
	}
	gw := &guardedWriter{ResponseWriter: w}
	r = r.WithContext(ctx)
	reading := readUnderWay(r)
	var mu sync.Mutex
	returned, deadline := false, false
	after := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if _, ended := context.Cause(ctx).(*accesstoken.Error); ended && !returned && !gw.hijacked && reading() {
			// Fails when the server does not support deadlines; the
			// handler still sees the context. Never after the handler
			// returned: the ResponseWriter is gone then.
			deadline = http.NewResponseController(w).SetReadDeadline(time.Now()) == nil
		}
	})
	gw.mu = &mu
	return gw, r, func() {
		mu.Lock()
		returned = true
		if deadline {
			// The connection may serve the next request (keep-alive):
			// a deadline in the past would end that one at once.
			_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		}
		mu.Unlock()
		after()
	}
}

// guardedWriter notes a Hijack, after which the connection is the
// handler's alone.
type guardedWriter struct {
	http.ResponseWriter
	mu       *sync.Mutex
	hijacked bool
}

func (g *guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *guardedWriter) Flush() {
	http.NewResponseController(g.ResponseWriter).Flush()
}

func (g *guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	conn, rw, err := http.NewResponseController(g.ResponseWriter).Hijack()
	if err == nil {
		g.hijacked = true
	}
	return conn, rw, err
}

// bodyReader notes when a request body has been read to its end: on
// HTTP/1.x the server then reads the connection itself (to see the client
// leave), and a read deadline would end the connection, not a read of ours.
type bodyReader struct {
	io.ReadCloser
	done atomic.Bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done.Store(true)
	}
	return n, err
}

// readUnderWay wraps r's body and reports, when asked, whether a read of it
// may be blocked: always on HTTP/2 (the deadline is the stream's), on
// HTTP/1.x only while the body has not ended.
func readUnderWay(r *http.Request) func() bool {
	if r.ProtoMajor >= 2 {
		return func() bool { return true }
	}
	if r.Body == nil || r.Body == http.NoBody {
		return func() bool { return false }
	}
	b := &bodyReader{ReadCloser: r.Body}
	r.Body = b
	return func() bool { return !b.done.Load() }
}
