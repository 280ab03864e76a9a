package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/ssf"
)

// signalsFlags are serve's Shared Signals receiver settings.
type signalsFlags struct {
	transmitter, audience, issuer, pushPath, pushURL string
	pushAuthz, streamID, tokenFile                   string
	poll                                             time.Duration
	emailIsSub                                       bool
}

func (s *signalsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.transmitter, "ssf-transmitter", "", "a Shared Signals transmitter's issuer URL: receive its session and account events (SSF 1.0, CAEP, RISC) and revoke the tokens they name")
	fs.StringVar(&s.audience, "ssf-audience", "", "this receiver's audience, as the transmitter names it in its events (\"aud\")")
	fs.StringVar(&s.issuer, "ssf-issuer", "", "the access tokens' issuer the events are about (default: the one issuer configured)")
	fs.StringVar(&s.pushPath, "ssf-push-path", "", "receive pushed events (RFC 8935) on this path of the http listener, such as /ssf/events")
	fs.StringVar(&s.pushURL, "ssf-push-url", "", "the public URL of the push path: with no ssf-stream-id, serve creates a push stream to it at the transmitter")
	fs.StringVar(&s.pushAuthz, "ssf-push-authorization", "", "the Authorization header value the transmitter sends with each push (prefer ACCESSTOKEN_SSF_PUSH_AUTHORIZATION)")
	fs.DurationVar(&s.poll, "ssf-poll", 0, "poll the transmitter for events (RFC 8936) this often; with no ssf-stream-id, serve creates a poll stream")
	fs.StringVar(&s.streamID, "ssf-stream-id", "", "the transmitter's stream to use, created earlier")
	fs.BoolVar(&s.emailIsSub, "ssf-email-is-sub", false, "an \"email\" subject names the tokens' \"sub\" (Okta's authorization servers put the user's login there); by default such subjects are ignored")
	fs.StringVar(&s.tokenFile, "ssf-token-file", "", "a file holding the bearer token serve sends to the transmitter's stream management endpoints (read again on each request)")
}

// check validates the settings; it says nothing when the receiver is off.
func (s *signalsFlags) check(httpAddr string) error {
	if s.transmitter == "" {
		for name, v := range map[string]string{"ssf-audience": s.audience, "ssf-issuer": s.issuer, "ssf-push-path": s.pushPath,
			"ssf-push-url": s.pushURL, "ssf-stream-id": s.streamID, "ssf-token-file": s.tokenFile} {
			if v != "" {
				return fmt.Errorf("setting %s: needs ssf-transmitter", name)
			}
		}
		if s.poll != 0 || s.emailIsSub {
			return errors.New("setting ssf-poll, ssf-email-is-sub: needs ssf-transmitter")
		}
		return nil
	}
	switch {
	case s.audience == "":
		return errors.New("setting ssf-audience: required with ssf-transmitter")
	case s.pushPath == "" && s.poll == 0:
		return errors.New("setting ssf-push-path, ssf-poll: ssf-transmitter needs one, to receive events")
	case s.pushPath != "" && s.poll != 0:
		return errors.New("setting ssf-push-path, ssf-poll: a stream is delivered one way; set one")
	case s.poll < 0:
		return errors.New("setting ssf-poll: negative")
	case s.pushPath != "" && httpAddr == "":
		return errors.New("setting ssf-push-path: needs the http listener")
	case s.pushPath != "" && (!strings.HasPrefix(s.pushPath, "/") || s.pushPath == "/" || strings.ContainsAny(s.pushPath, " {}?#")):
		return fmt.Errorf("setting ssf-push-path: %q is not a path such as /ssf/events", s.pushPath)
	case s.pushPath != "" && s.pushAuthz == "":
		return errors.New("setting ssf-push-authorization: required with ssf-push-path, so that only the transmitter can push")
	case s.pushURL != "" && s.pushPath == "":
		return errors.New("setting ssf-push-url: needs ssf-push-path")
	}
	if s.pushURL != "" {
		if u, err := url.Parse(s.pushURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("setting ssf-push-url: %q is not an http(s) URL", s.pushURL)
		}
	}
	return nil
}

// start creates the receiver over the named issuer's revocation list, its
// stream when none is named, and the poll loop; it returns the push
// handler (nil when polling) and a stop function.
func (s *signalsFlags) start(ctx context.Context, lists map[string]*accesstoken.Revocations, observer ssf.Observer, log io.Writer) (http.Handler, func(), error) {
	issuer := s.issuer
	if issuer == "" {
		if len(lists) != 1 {
			return nil, nil, configError{errors.New("setting ssf-issuer: several issuers are configured; name the one the events are about")}
		}
		for iss := range lists {
			issuer = iss
		}
	}
	list := lists[issuer]
	if list == nil {
		return nil, nil, configError{fmt.Errorf("setting ssf-issuer: %q is not a configured issuer", issuer)}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if s.tokenFile != "" {
		if _, err := readBearerFile(s.tokenFile); err != nil {
			return nil, nil, configError{fmt.Errorf("setting ssf-token-file: %v", err)}
		}
		client.Transport = tokenFileTransport{path: s.tokenFile, base: http.DefaultTransport}
	}
	cfg := ssf.Config{
		Transmitter: s.transmitter, Issuer: issuer, Audience: []string{s.audience}, Revocations: list,
		PushAuthorization: s.pushAuthz, StreamID: s.streamID, HTTPClient: client, Observer: observer,
	}
	if s.emailIsSub {
		cfg.ResolveSubject = func(_ context.Context, subject map[string]any) (string, bool) {
			email, ok := subject["email"].(string)
			return email, ok && subject["format"] == "email" && email != ""
		}
	}
	recv, err := ssf.NewReceiver(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if s.streamID == "" && (s.poll > 0 || s.pushURL != "") {
		d := ssf.Delivery{Method: ssf.DeliveryPoll}
		if s.poll == 0 {
			d = ssf.Delivery{Method: ssf.DeliveryPush, EndpointURL: s.pushURL}
		}
		stream, err := recv.CreateStream(ctx, d)
		if err != nil {
			recv.Close()
			return nil, nil, err
		}
		fmt.Fprintf(log, "accesstoken serve: created the Shared Signals stream %s at %s (give it as ssf-stream-id from now on)\n", stream.ID, s.transmitter)
	}
	fmt.Fprintf(log, "accesstoken serve: Shared Signals receiver of %s for the tokens of %s\n", s.transmitter, issuer)
	if s.poll == 0 {
		return recv, func() { recv.Close() }, nil
	}
	pollCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.poll)
		defer t.Stop()
		for {
			if err := recv.Poll(pollCtx); err != nil && pollCtx.Err() == nil {
				fmt.Fprintf(log, "accesstoken serve: polling %s: %v\n", s.transmitter, err)
			}
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil, func() { cancel(); <-done; recv.Close() }, nil
}

func readBearerFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \r\n\t") {
		return "", fmt.Errorf("%s does not hold one bearer token", path)
	}
	return token, nil
}

// tokenFileTransport adds the bearer token in a file to each request,
// reading the file again each time (a sidecar may rotate it).
type tokenFileTransport struct {
	path string
	base http.RoundTripper
}

func (t tokenFileTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	token, err := readBearerFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("ssf-token-file: %v", err)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.base.RoundTrip(r)
}
