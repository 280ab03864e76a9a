package bearer

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

// GuardRequest guards a request that [Reader.Authenticate] accepted, for
// streams an adapter serves over HTTP: the request it returns carries the
// context of accesstoken.Guard for the claims in r's context, and when the
// token ends a read of the request body under way fails (a read deadline:
// on HTTP/2 the stream's, on HTTP/1.x only while the body is still being
// read, since after its end the server reads the connection itself). A
// connection the handler hijacks (a WebSocket) is left alone: it has its own
// way to end. Serve the handler with the ResponseWriter it returns, and call
// release when the handler returns: the ResponseWriter is not touched after
// that. Without claims, or when nothing can end the token, it returns w and
// r themselves.
func GuardRequest(w http.ResponseWriter, r *http.Request, v accesstoken.TokenValidator) (_ http.ResponseWriter, _ *http.Request, release func()) {
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
