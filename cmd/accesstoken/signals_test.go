package main

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/internal/testserver"
	"github.com/tokenguard/accesstoken/internal/transmitter"
)

// TestServeSharedSignals: serve with a Shared Signals receiver, against
// the transmitter replica (SSF 1.0, CAEP 1.0), by push and by poll. serve
// creates its stream at the transmitter with the management token from
// ssf-token-file; a session-revoked event then makes ForwardAuth refuse
// that session's token, and only that one.
func TestServeSharedSignals(t *testing.T) {
	for _, mode := range []string{"push", "poll"} {
		t.Run(mode, func(t *testing.T) {
			as := accesstokentest.NewServer()
			defer as.Close()
			tx := transmitter.New(t, "https://gateway.example.com/ssf")
			dir := t.TempDir()
			cert, tokenFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ssf-token")
			writeFile(t, cert, string(tx.CertificatePEM()))
			writeFile(t, tokenFile, tx.Token()+"\n")
			port := strconv.Itoa(testserver.FreePort(t))
			args := []string{"--issuer", as.Issuer(), "--audience", as.Audience(), "--http", "127.0.0.1:" + port, "--grpc", "127.0.0.1:0",
				"--ssf-transmitter", tx.Issuer(), "--ssf-audience", "https://gateway.example.com/ssf", "--ssf-token-file", tokenFile}
			if mode == "push" {
				args = append(args, "--ssf-push-path", "/ssf/events", "--ssf-push-url", "http://127.0.0.1:"+port+"/ssf/events")
			} else {
				args = append(args, "--ssf-poll", "200ms", "--ssf-email-is-sub")
			}
			s := startServe(t, []string{"SSL_CERT_FILE=" + cert, "ACCESSTOKEN_SSF_PUSH_AUTHORIZATION=Bearer push-9"}, args...)
			streams := tx.Streams()
			if len(streams) != 1 {
				t.Fatalf("serve created %d streams", len(streams))
			}
			base := "http://" + s.http
			iat := time.Now().Add(-time.Minute).Unix()
			doomed := as.Token(map[string]any{"sub": "ann", "sid": "s-1", "iat": iat})
			kept := as.Token(map[string]any{"sub": "ann", "sid": "s-2", "iat": iat})
			for _, tok := range []string{doomed, kept} {
				if code, _, _ := fetch(t, base+"/orders", http.Header{"Authorization": {"Bearer " + tok}}); code != 200 {
					t.Fatalf("before the event: %d", code)
				}
			}
			if mode == "push" {
				// The push path is not behind ForwardAuth, and wants the
				// transmitter's Authorization.
				if r := tx.Push(base+"/ssf/events", "Bearer wrong", "x"); r.Status != 401 {
					t.Fatalf("push with a wrong Authorization: %v", r)
				}
			}
			set := tx.SET(transmitter.CAEP+"session-revoked", map[string]any{"initiating_entity": "user"}, map[string]any{"format": "complex",
				"user": map[string]any{"format": "iss_sub", "iss": as.Issuer(), "sub": "ann"}, "session": map[string]any{"format": "opaque", "id": "s-1"}})
			if r := tx.Emit(streams[0], set); mode == "push" && r.Status != 202 {
				t.Fatalf("push: %v", r)
			}
			start := time.Now()
			for {
				code, _, _ := fetch(t, base+"/orders", http.Header{"Authorization": {"Bearer " + doomed}})
				if code == 401 {
					t.Logf("%s: ForwardAuth refuses the session's token %v after the event", mode, time.Since(start).Round(time.Millisecond))
					break
				}
				if time.Since(start) > 3*time.Second {
					t.Fatalf("the revoked session's token still gets %d", code)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if code, _, _ := fetch(t, base+"/orders", http.Header{"Authorization": {"Bearer " + kept}}); code != 200 {
				t.Fatalf("the other session's token: %d", code)
			}
			if mode == "poll" {
				if acks, _, _ := tx.StreamState(streams[0]); len(acks) != 1 || acks[0] != transmitter.JTI(set) {
					t.Fatalf("acknowledged %v", acks)
				}
				// --ssf-email-is-sub: an account event naming the user by email
				// (as Okta does) revokes the tokens whose sub is that email.
				bea := as.Token(map[string]any{"sub": "bea@example.com", "sid": "s-3", "iat": iat})
				tx.Emit(streams[0], tx.SET(transmitter.CAEP+"credential-change", map[string]any{"change_type": "update", "credential_type": "password"},
					map[string]any{"format": "email", "email": "bea@example.com"}))
				start := time.Now()
				for {
					if code, _, _ := fetch(t, base+"/orders", http.Header{"Authorization": {"Bearer " + bea}}); code == 401 {
						break
					}
					if time.Since(start) > 3*time.Second {
						t.Fatal("an email subject did not revoke the token whose sub is that email")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if _, _, body := fetch(t, base+"/metrics", nil); !strings.Contains(body, `accesstoken_ssf_events_total{`) || !strings.Contains(body, `accesstoken_ssf_event_type="caep/session-revoked"`) {
				t.Fatalf("/metrics lacks the receiver's counter:\n%.2000s", body)
			}
		})
	}
}

// The receiver's settings are checked at start: exit 2 naming the setting.
func TestServeSharedSignalsSettings(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	w := newWorld(t)
	base := []string{"serve", "--issuer", as.Issuer(), "--audience", "a", "--http", "127.0.0.1:0"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"audience missing":      {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-poll", "1s"}, "setting ssf-audience"},
		"no delivery":           {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x"}, "setting ssf-push-path, ssf-poll"},
		"both deliveries":       {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-poll", "1s", "--ssf-push-path", "/e", "--ssf-push-authorization", "Bearer a"}, "set one"},
		"push without secret":   {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-push-path", "/e"}, "setting ssf-push-authorization"},
		"push path not a path":  {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-push-path", "events", "--ssf-push-authorization", "Bearer a"}, "setting ssf-push-path"},
		"setting without it":    {[]string{"--ssf-audience", "x"}, "setting ssf-audience: needs ssf-transmitter"},
		"token file unreadable": {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-poll", "1s", "--ssf-token-file", "/nonexistent/token"}, "setting ssf-token-file"},
		"push URL without path": {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-poll", "1s", "--ssf-push-url", "https://gw.example.com/e"}, "setting ssf-push-url"},
		"issuer not configured": {[]string{"--ssf-transmitter", "https://idp.example.com", "--ssf-audience", "x", "--ssf-poll", "1s", "--ssf-issuer", "https://other.example.com"}, "setting ssf-issuer"},
	} {
		cmd := exec.Command(binary, append(append([]string{}, base...), tc.args...)...)
		cmd.Env = w.env
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d (%v), output %q; want 2 and %q", name, code, err, out, tc.want)
		}
	}
}
