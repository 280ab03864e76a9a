package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
)

const (
	pollMaxEvents = 100
	pollMaxRounds = 10
	maxPollBody   = 16 << 20
)

type pollRequest struct {
	Ack               []string            `json:"ack"`
	SetErrs           map[string]setError `json:"setErrs,omitempty"`
	MaxEvents         int                 `json:"maxEvents"`
	ReturnImmediately bool                `json:"returnImmediately"`
}

type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

var errUnprocessed = errors.New("ssf: some SETs could not be processed now; the transmitter will deliver them again")

// Poll runs one RFC 8936 poll of the stream's poll endpoint: it asks for
// up to 100 SETs without waiting (again, up to 10 times, while the
// transmitter says more are available), processes each as a push would,
// and acknowledges those applied or ignored and reports those refused in
// "setErrs", within the same call. A SET that cannot be processed now is
// neither, so the transmitter delivers it again, and Poll returns an error.
// Acknowledgements that could not be sent are sent by the next Poll. One
// Poll runs at a time; call it in a loop, a few seconds apart, or after a
// notification.
func (r *Receiver) Poll(ctx context.Context) error {
	select {
	case r.pollBusy <- struct{}{}:
		defer func() { <-r.pollBusy }()
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	endpoint := ""
	if r.stream.Delivery.Method == DeliveryPoll {
		endpoint = r.stream.Delivery.EndpointURL
	}
	r.mu.Unlock()
	if endpoint == "" {
		return errors.New("ssf: Poll needs a poll stream (Config.StreamID, or CreateStream with DeliveryPoll) whose delivery names an endpoint_url")
	}
	var failed error
	for round := 0; ; round++ {
		max := pollMaxEvents
		if round == pollMaxRounds || failed != nil {
			max = 0 // acknowledgements only
		}
		resp, err := r.pollOnce(ctx, endpoint, max)
		if err != nil {
			return err
		}
		if max == 0 {
			break
		}
		for jti, set := range resp.Sets {
			res := r.process(ctx, set, "poll")
			r.mu.Lock()
			switch res.outcome {
			case outcomeApplied, outcomeIgnored:
				r.pending = append(r.pending, jti)
			case outcomeRefused:
				r.setErrs[jti] = setError{Err: res.code, Description: descriptions[res.code]}
			default:
				failed = errUnprocessed
			}
			r.mu.Unlock()
		}
		if !resp.MoreAvailable || len(resp.Sets) == 0 {
			if r.pendingCount() == 0 {
				break
			}
			round = pollMaxRounds - 1 // one more request, acknowledgements only
		}
	}
	return failed
}

func (r *Receiver) pendingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) + len(r.setErrs)
}

// pollOnce sends the pending acknowledgements and errors and asks for up
// to max SETs; on failure they stay pending.
func (r *Receiver) pollOnce(ctx context.Context, endpoint string, max int) (*pollResponse, error) {
	r.mu.Lock()
	req := pollRequest{Ack: append([]string{}, r.pending...), SetErrs: maps.Clone(r.setErrs), MaxEvents: max, ReturnImmediately: true}
	r.mu.Unlock()
	data, err := r.do(ctx, http.MethodPost, endpoint, req, http.StatusOK, maxPollBody)
	if err != nil {
		return nil, fmt.Errorf("ssf: polling: %w", err)
	}
	// Delivered: drop what was sent (more may have been added meanwhile).
	r.mu.Lock()
	r.pending = r.pending[len(req.Ack):]
	for jti := range req.SetErrs {
		delete(r.setErrs, jti)
	}
	r.mu.Unlock()
	var resp pollResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("ssf: the poll response: %w", err)
	}
	if len(resp.Sets) > max {
		return nil, fmt.Errorf("ssf: the poll response holds %d SETs, more than the %d asked for", len(resp.Sets), max)
	}
	return &resp, nil
}
