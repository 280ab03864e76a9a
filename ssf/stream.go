package ssf

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Delivery methods (SSF 1.0 §6.1).
const (
	DeliveryPush = "urn:ietf:rfc:8935" // the transmitter POSTs each SET to the receiver
	DeliveryPoll = "urn:ietf:rfc:8936" // the receiver polls the transmitter
)

// A Stream is the transmitter's configuration of an event stream (SSF 1.0
// §8.1.1).
type Stream struct {
	ID                      string   `json:"stream_id,omitempty"`
	Issuer                  string   `json:"iss,omitempty"`
	Audience                []string `json:"-"` // "aud", a string or an array
	EventsSupported         []string `json:"events_supported,omitempty"`
	EventsRequested         []string `json:"events_requested,omitempty"`
	EventsDelivered         []string `json:"events_delivered,omitempty"`
	Delivery                Delivery `json:"delivery"`
	MinVerificationInterval int      `json:"min_verification_interval,omitempty"`
	Description             string   `json:"description,omitempty"`
}

// Delivery is how a stream's SETs travel: Method is [DeliveryPush] or
// [DeliveryPoll]; EndpointURL the receiver's push endpoint (push) or the
// transmitter's poll endpoint (poll, supplied by the transmitter);
// AuthorizationHeader what the transmitter sends with each push.
type Delivery struct {
	Method              string `json:"method"`
	EndpointURL         string `json:"endpoint_url,omitempty"`
	AuthorizationHeader string `json:"authorization_header,omitempty"`
}

// StreamStatus is a stream's status (SSF 1.0 §8.1.2): "enabled", "paused"
// or "disabled", and the transmitter's reason.
type StreamStatus struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// UnmarshalJSON reads "aud" as a string or an array.
func (s *Stream) UnmarshalJSON(b []byte) error {
	type plain Stream
	var v struct {
		plain
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Stream(v.plain)
	s.Audience = nil
	if len(v.Aud) > 0 && string(v.Aud) != "null" {
		var one string
		if json.Unmarshal(v.Aud, &one) == nil {
			s.Audience = []string{one}
		} else if err := json.Unmarshal(v.Aud, &s.Audience); err != nil {
			return errors.New(`"aud" is neither a string nor an array of strings`)
		}
	}
	return nil
}

// MarshalJSON writes "aud" as SSF 1.0 does: a string for one audience.
func (s Stream) MarshalJSON() ([]byte, error) {
	type plain Stream
	v := struct {
		plain
		Aud any `json:"aud,omitempty"`
	}{plain: plain(s)}
	switch len(s.Audience) {
	case 0:
	case 1:
		v.Aud = s.Audience[0]
	default:
		v.Aud = s.Audience
	}
	return json.Marshal(v)
}

var errNoEndpoint = errors.New("the transmitter's metadata does not name that endpoint")

// CreateStream creates a stream at the transmitter's configuration
// endpoint (SSF 1.0 §8.1.1.1) asking for [EventTypes], and makes it the
// receiver's stream. For push, d.EndpointURL is where this receiver is
// mounted, and an empty d.AuthorizationHeader becomes
// Config.PushAuthorization; for poll, give only the method: the
// transmitter supplies the poll endpoint.
func (r *Receiver) CreateStream(ctx context.Context, d Delivery) (Stream, error) {
	meta := r.meta()
	if meta.ConfigurationEndpoint == "" {
		return Stream{}, fmt.Errorf("ssf: creating a stream: %w", errNoEndpoint)
	}
	if d.Method == DeliveryPush && d.AuthorizationHeader == "" {
		d.AuthorizationHeader = r.cfg.PushAuthorization
	}
	body := map[string]any{"delivery": d, "events_requested": EventTypes(), "description": "accesstoken ssf receiver"}
	data, err := r.do(ctx, http.MethodPost, meta.ConfigurationEndpoint, body, 0, maxManagementBody)
	if err != nil {
		return Stream{}, fmt.Errorf("ssf: creating a stream: %w", err)
	}
	var s Stream
	if err := json.Unmarshal(data, &s); err != nil || s.ID == "" {
		return Stream{}, fmt.Errorf("ssf: creating a stream: the transmitter's answer has no stream_id (%v)", err)
	}
	r.mu.Lock()
	r.stream = s
	r.mu.Unlock()
	return s, nil
}

// Stream reads the receiver's stream from the transmitter (SSF 1.0
// §8.1.1.2) and keeps what it says (a changed poll endpoint, say).
func (r *Receiver) Stream(ctx context.Context) (Stream, error) {
	id := r.streamID()
	if id == "" {
		return Stream{}, errors.New("ssf: no stream: set Config.StreamID or call CreateStream")
	}
	s, err := r.readStream(ctx, id)
	if err != nil {
		return Stream{}, err
	}
	r.mu.Lock()
	r.stream = s
	r.mu.Unlock()
	return s, nil
}

func (r *Receiver) streamID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stream.ID
}

func (r *Receiver) readStream(ctx context.Context, id string) (Stream, error) {
	meta := r.meta()
	if meta.ConfigurationEndpoint == "" {
		return Stream{}, fmt.Errorf("ssf: reading the stream: %w", errNoEndpoint)
	}
	data, err := r.do(ctx, http.MethodGet, withStreamID(meta.ConfigurationEndpoint, id), nil, http.StatusOK, maxManagementBody)
	if err != nil {
		return Stream{}, fmt.Errorf("ssf: reading the stream: %w", err)
	}
	// A transmitter answers one stream as an object; some answer a list.
	var s Stream
	if err := json.Unmarshal(data, &s); err != nil {
		var list []Stream
		if json.Unmarshal(data, &list) != nil {
			return Stream{}, fmt.Errorf("ssf: reading the stream: %w", err)
		}
		for _, item := range list {
			if item.ID == id {
				s = item
			}
		}
	}
	if s.ID != id {
		return Stream{}, fmt.Errorf("ssf: the transmitter has no stream %q", truncate(id))
	}
	return s, nil
}

func withStreamID(endpoint, id string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	q.Set("stream_id", id)
	u.RawQuery = q.Encode()
	return u.String()
}

// Status reads the stream's status at the transmitter's status endpoint
// (SSF 1.0 §8.1.2.1). Without one, it is what the last stream-updated
// event said ("" before any).
func (r *Receiver) Status(ctx context.Context) (StreamStatus, error) {
	meta := r.meta()
	id := r.streamID()
	if meta.StatusEndpoint == "" || id == "" {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.status, nil
	}
	data, err := r.do(ctx, http.MethodGet, withStreamID(meta.StatusEndpoint, id), nil, http.StatusOK, maxManagementBody)
	if err != nil {
		return StreamStatus{}, fmt.Errorf("ssf: reading the stream's status: %w", err)
	}
	var st StreamStatus
	if err := json.Unmarshal(data, &st); err != nil || st.Status == "" {
		return StreamStatus{}, fmt.Errorf("ssf: the stream's status has no \"status\" (%v)", err)
	}
	r.mu.Lock()
	r.status = st
	r.mu.Unlock()
	return st, nil
}

// Verify asks the transmitter for a verification event (SSF 1.0 §8.1.4)
// and waits until this receiver has received it, by push or by the Polls
// that run meanwhile, with the state it sent: the end-to-end check that
// events flow. ctx bounds the wait.
func (r *Receiver) Verify(ctx context.Context) error {
	meta := r.meta()
	id := r.streamID()
	switch {
	case meta.VerificationEndpoint == "":
		return fmt.Errorf("ssf: verifying the stream: %w", errNoEndpoint)
	case id == "":
		return errors.New("ssf: no stream: set Config.StreamID or call CreateStream")
	}
	state := rand.Text()
	ch := make(chan struct{})
	r.mu.Lock()
	r.waiting[state] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, state)
		r.mu.Unlock()
	}()
	if _, err := r.do(ctx, http.MethodPost, meta.VerificationEndpoint, map[string]string{"stream_id": id, "state": state}, 0, maxManagementBody); err != nil {
		return fmt.Errorf("ssf: requesting a verification event: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ssf: waiting for the verification event: %w", ctx.Err())
	}
}
