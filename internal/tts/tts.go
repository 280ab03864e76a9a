// Package tts is a Transaction Token Service for tests, built from the
// text of draft-ietf-oauth-transaction-tokens-10: the token endpoint of §7
// (RFC 8693 token exchange profiled: grant_type token-exchange,
// requested_token_type txn_token, audience the trust domain, scope, a
// subject token it validates, request_context and request_details as JSON
// objects), client authentication (§7.4: HTTP Basic here), the response of
// §7.3 (token_type N_A, issued_token_type txn_token, no refresh token) and
// errors as RFC 6749 §5.2. The tokens it issues follow §5 (typ
// txntoken+jwt; iat, aud, exp, txn, sub, scope, req_wl, rctx, tctx),
// signed ES256 with a key of its own, served as a JWK Set. It serves HTTPS
// on loopback.
package tts

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/transmitter"
)

// Service is the replica.
type Service struct {
	srv         *httptest.Server
	key         *transmitter.Key
	trustDomain string
	clientID    string
	secret      string
	subjects    accesstoken.TokenValidator // validates subject tokens (§7.2)

	mu       sync.Mutex
	Requests []map[string][]string // every token request's form, subject_token removed
	// Misbehave, when set, makes the answer wrong in one way: "refresh"
	// (a refresh_token), "type" (another issued_token_type), "error" (400
	// invalid_request), "down" (500), "slow" (3 s late).
	Misbehave string
}

// New starts a service for trustDomain whose subject tokens are access
// tokens that subjects validates, and whose one client is clientID with
// secret.
func New(t testing.TB, trustDomain, clientID, secret string, subjects accesstoken.TokenValidator) *Service {
	s := &Service{key: transmitter.NewKey("tts-1"), trustDomain: trustDomain, clientID: clientID, secret: secret, subjects: subjects}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{s.key.JWK()}})
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint is the token endpoint; JWKSURL the key set; Client trusts the
// certificate.
func (s *Service) Endpoint() string     { return s.srv.URL + "/token" }
func (s *Service) JWKSURL() string      { return s.srv.URL + "/jwks.json" }
func (s *Service) Client() *http.Client { return s.srv.Client() }

// CertificatePEM is the server's certificate (for SSL_CERT_FILE).
func (s *Service) CertificatePEM() []byte { return certPEM(s.srv) }

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mis := s.Misbehave
	s.mu.Unlock()
	if id, secret, ok := r.BasicAuth(); !ok || id != s.clientID || secret != s.secret {
		w.Header().Set("WWW-Authenticate", `Basic realm="tts"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request")
		return
	}
	f := r.PostForm
	logged := map[string][]string{}
	for k, v := range f {
		if k != "subject_token" {
			logged[k] = v
		}
	}
	s.mu.Lock()
	s.Requests = append(s.Requests, logged)
	s.mu.Unlock()
	switch {
	case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
		oauthError(w, 400, "unsupported_grant_type")
		return
	case f.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:txn_token",
		f.Get("audience") != s.trustDomain, f.Get("scope") == "",
		f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token":
		oauthError(w, 400, "invalid_request")
		return
	}
	c, err := s.subjects.Validate(r.Context(), f.Get("subject_token"))
	if err != nil {
		oauthError(w, 400, "invalid_grant")
		return
	}
	// §10.6: the scope must not exceed the subject token's.
	for _, sc := range strings.Fields(f.Get("scope")) {
		if !c.HasScope(sc) {
			oauthError(w, 400, "invalid_scope")
			return
		}
	}
	var rctx, tctx map[string]any
	if v := f.Get("request_context"); v != "" && json.Unmarshal([]byte(v), &rctx) != nil {
		oauthError(w, 400, "invalid_request")
		return
	}
	if v := f.Get("request_details"); v != "" && json.Unmarshal([]byte(v), &tctx) != nil {
		oauthError(w, 400, "invalid_request")
		return
	}
	switch mis {
	case "error":
		oauthError(w, 400, "invalid_request")
		return
	case "down":
		http.Error(w, "down", 500)
		return
	case "slow":
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	now := time.Now()
	claims := map[string]any{
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "aud": s.trustDomain, "txn": rand.Text(),
		"sub": c.Subject, "scope": f.Get("scope"), "req_wl": "tts-client:" + s.clientID,
	}
	if rctx != nil {
		claims["rctx"] = rctx
	}
	if tctx != nil {
		claims["tctx"] = tctx
	}
	tok := s.key.Sign(map[string]any{"alg": "ES256", "kid": s.key.ID, "typ": "txntoken+jwt"}, claims)
	answer := map[string]any{"token_type": "N_A", "issued_token_type": "urn:ietf:params:oauth:token-type:txn_token", "access_token": tok}
	switch mis {
	case "refresh":
		answer["refresh_token"] = "r-1"
	case "type":
		answer["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(answer)
}

// Set changes Misbehave.
func (s *Service) Set(misbehave string) {
	s.mu.Lock()
	s.Misbehave = misbehave
	s.mu.Unlock()
}

// LastRequest is the last token request's form (subject_token removed).
func (s *Service) LastRequest() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.Requests) == 0 {
		return nil
	}
	return s.Requests[len(s.Requests)-1]
}
