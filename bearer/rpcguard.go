package bearer

// This file guards RPCs over HTTP (gRPC, gRPC-Web, Connect streams) at the
// HTTP layer: the adapters of Connect v1 and v2 share it, and an adapter of
// any other framework serving those protocols can use it (GuardRPC).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tokenguard/accesstoken"
)

// How a call's status travels, by protocol.
const (
	protoNone          = iota // Connect unary, GET, not an RPC: not guarded
	protoGRPC                 // HTTP trailers
	protoGRPCWeb              // a trailer frame (flag 0x80) in the body, or headers when trailers-only
	protoConnectStream        // an end-of-stream frame (flag 0x02) in the body
)

// rpcProtocol says how r's status travels. Unary Connect calls end as soon
// as they are answered and are not guarded; unary gRPC and gRPC-Web calls
// look like streams at the HTTP layer and are.
func rpcProtocol(r *http.Request) int {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return protoGRPCWeb
	case strings.HasPrefix(ct, "application/grpc"):
		return protoGRPC
	case strings.HasPrefix(ct, "application/connect+"):
		return protoConnectStream
	}
	return protoNone
}

var errTokenEnded = errors.New("the access token ended")

// GuardRPC serves next with r, an RPC whose claims are in its context
// ([Reader.Authenticate]), guarded by [accesstoken.Guard] as [GuardRequest]
// does, and when the token ends (expiry, revocation) before the call does,
// it ends the call in the call's own protocol, whatever the handler
// returns: a gRPC call gets status Unauthenticated (16) in its trailers; a
// gRPC-Web call the same in its trailer frame (or headers, trailers-only),
// with the WWW-Authenticate challenge of realm and resourceMetadata; a
// Connect streaming call an end-of-stream "unauthenticated" error with the
// challenge in its metadata. A handler blocked reading the request is
// unblocked, and a message written after the token ended fails. Unary
// Connect calls and requests that are not RPCs are served unguarded (they
// end as soon as they are answered); unary gRPC and gRPC-Web calls look
// like streams at the HTTP layer and are guarded.
func GuardRPC(w http.ResponseWriter, r *http.Request, v accesstoken.TokenValidator, realm, resourceMetadata string, next http.Handler) {
	proto := rpcProtocol(r)
	if proto == protoNone {
		next.ServeHTTP(w, r)
		return
	}
	gw, gr, release := GuardRequest(w, r, v)
	if gr == r {
		next.ServeHTTP(w, r) // nothing can end this token
		return
	}
	g := &guardWriter{ResponseWriter: gw, ctx: gr.Context(), proto: proto, realm: realm, resourceMetadata: resourceMetadata}
	next.ServeHTTP(g, gr)
	release()
	g.finish()
}

// guardWriter passes a call's response through, and once the token has
// ended refuses new messages and puts Unauthenticated in the status.
type guardWriter struct {
	http.ResponseWriter
	ctx              context.Context
	proto            int
	realm            string
	resourceMetadata string

	once sync.Once
	err  *accesstoken.Error // why the token ended; nil while it lives

	wroteHeader bool
	hdr         [5]byte // the envelope prefix being read
	hdrN        int
	remaining   uint32 // bytes of the current envelope still to pass or drop
	dropping    bool   // the current envelope is the handler's end, replaced by ours
	endWritten  bool   // our end of stream went out
}

// ended is why the token ended, or nil.
func (g *guardWriter) ended() *accesstoken.Error {
	if g.ctx.Err() == nil {
		return nil
	}
	var e *accesstoken.Error
	if !errors.As(context.Cause(g.ctx), &e) {
		return nil // the call itself ended
	}
	g.once.Do(func() { g.err = WithResourceMetadata(e, g.resourceMetadata) })
	return g.err
}

func (g *guardWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *guardWriter) Flush() {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK) // through the rewrite of a status in headers
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (g *guardWriter) WriteHeader(code int) {
	if !g.wroteHeader {
		g.wroteHeader = true
		if e := g.ended(); e != nil {
			g.rewriteHeaderStatus(e)
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

// rewriteHeaderStatus replaces a status sent in headers: a gRPC-Web
// "trailers-only" answer.
func (g *guardWriter) rewriteHeaderStatus(e *accesstoken.Error) {
	h := g.ResponseWriter.Header()
	if g.proto == protoGRPCWeb && h.Get("Grpc-Status") != "" {
		h.Set("Grpc-Status", "16")
		h.Set("Grpc-Message", grpcPercentEncode(rpcMessage(e)))
		h.Del("Grpc-Status-Details-Bin")
		if ch := e.Challenge(g.realm); ch != "" {
			h.Set("Www-Authenticate", ch)
		}
	}
}

// Write passes messages through while the token lives and replaces the
// handler's end of stream (Connect, gRPC-Web) once it has ended; a new
// message after that fails.
func (g *guardWriter) Write(p []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	total := len(p)
	for len(p) > 0 {
		if g.remaining == 0 {
			n := copy(g.hdr[g.hdrN:], p)
			g.hdrN += n
			p = p[n:]
			if g.hdrN < len(g.hdr) {
				break
			}
			g.hdrN = 0
			flags, length := g.hdr[0], binary.BigEndian.Uint32(g.hdr[1:])
			isEnd := g.proto == protoConnectStream && flags&0x02 != 0 || g.proto == protoGRPCWeb && flags&0x80 != 0
			e := g.ended()
			switch {
			case e != nil && isEnd:
				if err := g.writeEnd(e); err != nil {
					return 0, err
				}
				g.dropping = length > 0
			case e != nil:
				return 0, errTokenEnded // a message after the token ended
			default:
				if _, err := g.ResponseWriter.Write(g.hdr[:]); err != nil {
					return 0, err
				}
			}
			g.remaining = length
			continue
		}
		n := min(int(g.remaining), len(p))
		if !g.dropping {
			if _, err := g.ResponseWriter.Write(p[:n]); err != nil {
				return 0, err
			}
		}
		g.remaining -= uint32(n)
		p = p[n:]
		if g.remaining == 0 {
			g.dropping = false
		}
	}
	return total, nil
}

// writeEnd writes the end of stream that says why the token ended.
func (g *guardWriter) writeEnd(e *accesstoken.Error) error {
	if g.endWritten {
		return nil
	}
	g.endWritten = true
	var flags byte
	var payload []byte
	challenge := e.Challenge(g.realm)
	switch g.proto {
	case protoConnectStream:
		flags = 0x02
		end := map[string]any{"error": map[string]string{"code": "unauthenticated", "message": rpcMessage(e)}}
		if challenge != "" {
			end["metadata"] = map[string][]string{"www-authenticate": {challenge}}
		}
		payload, _ = json.Marshal(end)
	case protoGRPCWeb:
		flags = 0x80
		s := "grpc-status: 16\r\ngrpc-message: " + grpcPercentEncode(rpcMessage(e)) + "\r\n"
		if challenge != "" {
			s += "www-authenticate: " + challenge + "\r\n"
		}
		payload = []byte(s)
	default:
		return nil
	}
	var prefix [5]byte
	prefix[0] = flags
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(payload)))
	if _, err := g.ResponseWriter.Write(prefix[:]); err != nil {
		return err
	}
	_, err := g.ResponseWriter.Write(payload)
	return err
}

// finish puts Unauthenticated in the status the handler left, when the
// token ended during the call.
func (g *guardWriter) finish() {
	e := g.ended()
	if e == nil {
		return
	}
	switch g.proto {
	case protoGRPC:
		h := g.ResponseWriter.Header()
		h.Del(http.TrailerPrefix + "Grpc-Status-Details-Bin")
		h.Set(http.TrailerPrefix+"Grpc-Status", "16")
		h.Set(http.TrailerPrefix+"Grpc-Message", grpcPercentEncode(rpcMessage(e)))
		// No WWW-Authenticate: HTTP forbids it in trailers (RFC 9110
		// §6.5.1), and net/http's HTTP/2 server drops it.
	case protoGRPCWeb:
		if !g.wroteHeader {
			g.rewriteHeaderStatus(e) // trailers-only, written when the handler returns
		}
	case protoConnectStream:
		if !g.endWritten && g.remaining == 0 && g.hdrN == 0 {
			if !g.wroteHeader {
				g.WriteHeader(http.StatusOK)
			}
			g.writeEnd(e)
		}
	}
}

// grpcPercentEncode encodes a grpc-message value: bytes outside printable
// ASCII, and "%", as %XX.
func grpcPercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E || c == '%' {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// rpcMessage is the status message of e: its description, else its
// status text.
func rpcMessage(e *accesstoken.Error) string {
	if e.Description != "" {
		return e.Description
	}
	return http.StatusText(e.StatusCode())
}
