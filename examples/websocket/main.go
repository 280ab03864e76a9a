// Command websocket is a WebSocket feed that ends when its token does: the
// handler sits behind httpauth.Middleware with WithStreamGuard, so its
// request context ends when the token expires or is revoked, and it then
// closes the WebSocket with the policy-violation code (1008) and the reason.
// The program serves on loopback, connects as a client with a token, revokes
// the token (as an administrator or the shared signals receiver would, on
// any replica sharing the store) and prints how the connection ended. It
// uses github.com/coder/websocket.
//
//	go run ./examples/websocket
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// feed sends a tick every 100 ms until the client leaves or the token ends;
// then it closes with 1008 and the reason.
func feed(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	guarded := r.Context() // ends with the token (WithStreamGuard)
	// Reads only answer control frames, and must outlive the guard so that
	// the close frame below can be sent: coder/websocket closes the
	// connection when the context of a Read ends.
	gone := c.CloseRead(context.WithoutCancel(guarded))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-guarded.Done():
			reason := "the access token ended"
			var e *accesstoken.Error
			if errors.As(context.Cause(guarded), &e) {
				reason = e.Description
			}
			c.Close(websocket.StatusPolicyViolation, reason)
			return
		case <-gone.Done():
			return // the client closed
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.WithoutCancel(guarded), time.Second)
			err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "tick %d", n))
			cancel()
			if err != nil {
				return
			}
		}
	}
}

func run(out io.Writer) error {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	// Replicas share one store (redisstore in production): a revocation on
	// any of them reaches every guard within about a second.
	store := accesstoken.NewMemoryStore()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()},
		Revocations: accesstoken.NewRevocations(store),
	})
	if err != nil {
		return err
	}
	defer v.Close()
	srv := httptest.NewServer(httpauth.Middleware(v, httpauth.WithStreamGuard())(http.HandlerFunc(feed)))
	defer srv.Close()

	token := as.Token(map[string]any{"sub": "ann", "jti": "feed-1"})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	if _, _, err := websocket.Dial(ctx, url, nil); err != nil {
		fmt.Fprintf(out, "without a token: %v\n", err)
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	_, msg, err := c.Read(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "connected as ann: %s\n", msg)

	admin := accesstoken.NewRevocations(store) // another replica, or an admin tool
	if err := admin.RevokeToken(ctx, "feed-1", time.Now().Add(time.Hour)); err != nil {
		return err
	}
	revoked := time.Now()
	for {
		if _, _, err = c.Read(ctx); err != nil {
			break
		}
	}
	took := time.Since(revoked)
	fmt.Fprintf(out, "closed by the server: %d %s, %s after the revocation\n",
		websocket.CloseStatus(err), closeReason(err), took.Round(100*time.Millisecond))
	return nil
}

func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%q", ce.Reason)
	}
	return err.Error()
}
