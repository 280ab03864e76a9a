package ssf

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

const pushContentType = "application/secevent+jwt"

// ServeHTTP is the RFC 8935 push endpoint. A POST of one SET
// (application/secevent+jwt) gets 202 once its event is applied or
// ignored; 401 when Config.PushAuthorization is set and the request's
// Authorization differs; 400 with {"err", "description"} when the SET is
// refused (invalid_key, invalid_issuer, invalid_audience,
// invalid_request); 503 with Retry-After when it cannot be processed now
// (the transmitter's keys or the Store unreachable), so that the
// transmitter delivers it again. Other methods get 405.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if want := r.cfg.PushAuthorization; want != "" {
		got := req.Header.Values("Authorization")
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(want)) != 1 {
			r.observeEarly(req, "authentication", errors.New("the push's Authorization header is missing or wrong"))
			if scheme, _, ok := strings.Cut(want, " "); ok {
				w.Header().Set("WWW-Authenticate", scheme)
			}
			writeError(w, http.StatusUnauthorized, codeAuthentication)
			return
		}
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || !strings.EqualFold(mt, pushContentType) {
		r.observeEarly(req, "content_type", errors.New("the push's Content-Type is not application/secevent+jwt"))
		writeError(w, http.StatusBadRequest, codeInvalidRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxSETBytes+1))
	if err != nil || len(body) > maxSETBytes {
		r.observeEarly(req, "too_large", errors.New("the push's body could not be read whole, or is too large"))
		writeError(w, http.StatusBadRequest, codeInvalidRequest)
		return
	}
	res := r.process(req.Context(), strings.TrimSpace(string(body)), "push")
	switch res.outcome {
	case outcomeApplied, outcomeIgnored:
		w.WriteHeader(http.StatusAccepted)
	case outcomeRefused:
		writeError(w, http.StatusBadRequest, res.code)
	default:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the SET cannot be processed now", http.StatusServiceUnavailable)
	}
}

// observeEarly reports a push refused before its SET was read.
func (r *Receiver) observeEarly(req *http.Request, reason string, err error) {
	r.logger.Warn("ssf: push refused", "transmitter", r.cfg.Transmitter, "reason", reason)
	if r.cfg.Observer != nil {
		r.cfg.Observer.SecurityEvent(req.Context(), Event{Transmitter: r.cfg.Transmitter, Delivery: "push", Outcome: outcomeRefused, Reason: reason, Err: err})
	}
}

// writeError writes an RFC 8935 §2.3 error response.
func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(setError{Err: code, Description: descriptions[code]})
}

// setError is an RFC 8935 §2.3 error and an RFC 8936 setErrs entry.
type setError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}
