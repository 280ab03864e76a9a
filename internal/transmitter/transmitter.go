// Package transmitter is a Shared Signals transmitter for tests, built from
// the texts of OpenID Shared Signals Framework 1.0 (metadata §7, stream
// management §8: configuration, status and verification endpoints),
// RFC 8935 (push delivery), RFC 8936 (poll delivery), RFC 8417 (the SET,
// signed ES256 with "typ" secevent+jwt) and the event types of CAEP 1.0
// and RISC 1.0. It serves real HTTPS on loopback, signs with real keys,
// requires the receiver's bearer token on its management endpoints
// (SSF 1.0 §8.1) and records what receivers answer.
package transmitter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Event type URIs (CAEP 1.0 §3, RISC 1.0 §2, SSF 1.0 §8.1.4-5).
const (
	CAEP  = "https://schemas.openid.net/secevent/caep/event-type/"
	RISC  = "https://schemas.openid.net/secevent/risc/event-type/"
	OAuth = "https://schemas.openid.net/secevent/oauth/event-type/"
	SSF   = "https://schemas.openid.net/secevent/ssf/event-type/"

	Push = "urn:ietf:rfc:8935"
	Poll = "urn:ietf:rfc:8936"
)

// Key is an ES256 signing key.
type Key struct {
	ID   string
	Priv *ecdsa.PrivateKey
}

// NewKey makes a fresh P-256 key.
func NewKey(kid string) *Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Key{ID: kid, Priv: priv}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWK is the key's public JWK.
func (k *Key) JWK() map[string]any {
	x, y := make([]byte, 32), make([]byte, 32)
	k.Priv.X.FillBytes(x)
	k.Priv.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": k.ID, "use": "sig", "alg": "ES256"}
}

// Sign makes a compact JWS of claims under header, signed ES256 with k
// whatever header's "alg" says (so that tests can lie in it).
func (k *Key) Sign(header, claims map[string]any) string {
	c, _ := json.Marshal(claims)
	return k.SignRaw(header, c)
}

// SignRaw signs payload bytes as they are (fuzzing).
func (k *Key) SignRaw(header map[string]any, payload []byte) string {
	h, _ := json.Marshal(header)
	input := b64(h) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.Priv, digest[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

// Stream is a stream as the transmitter keeps it.
type Stream struct {
	ID       string
	Method   string
	Endpoint string // push: the receiver's; poll: ours
	Authz    string // what a push sends as Authorization
	Status   string

	queue   []queued          // poll: SETs not yet acknowledged
	Acks    []string          // poll: jtis acknowledged
	SetErrs map[string]string // poll: jti → err code reported
}

type queued struct{ jti, set string }

// Transmitter is the replica. Create it with New.
type Transmitter struct {
	srv      *httptest.Server
	token    string
	audience string

	mu        sync.Mutex
	keys      []*Key // published; the last one signs
	streams   map[string]*Stream
	jwksHits  int
	Responses []Response // every push's answer, in order
}

// Response is a receiver's answer to a push.
type Response struct {
	Status int
	Body   string
}

// New starts a transmitter over TLS on loopback whose SETs name audience.
func New(t testing.TB, audience string) *Transmitter {
	x := &Transmitter{token: "mgmt-" + rand.Text(), audience: audience, streams: map[string]*Stream{}}
	x.keys = []*Key{NewKey("t-1")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/ssf-configuration", x.metadata)
	mux.HandleFunc("GET /jwks.json", x.jwks)
	mux.HandleFunc("/ssf/streams", x.authenticated(x.streamsEndpoint))
	mux.HandleFunc("GET /ssf/status", x.authenticated(x.status))
	mux.HandleFunc("POST /ssf/verify", x.authenticated(x.verify))
	mux.HandleFunc("POST /ssf/poll/{id}", x.authenticated(x.poll))
	x.srv = httptest.NewUnstartedServer(mux)
	x.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
	x.srv.StartTLS()
	t.Cleanup(x.srv.Close)
	return x
}

// Issuer is the transmitter's issuer identifier (its https URL).
func (x *Transmitter) Issuer() string { return x.srv.URL }

// Client trusts the transmitter's certificate and adds the receiver's
// bearer token to requests to it (SSF 1.0 §8.1: receivers authenticate).
func (x *Transmitter) Client() *http.Client {
	return &http.Client{Transport: bearer{token: x.token, base: x.srv.Client().Transport}}
}

// ClientWithoutToken trusts the certificate only.
func (x *Transmitter) ClientWithoutToken() *http.Client { return x.srv.Client() }

// CertificatePEM is the server's certificate, for a process that must
// trust it (SSL_CERT_FILE).
func (x *Transmitter) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.srv.Certificate().Raw})
}

// Streams lists the IDs of the streams receivers created.
func (x *Transmitter) Streams() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var ids []string
	for id := range x.streams {
		ids = append(ids, id)
	}
	return ids
}

// Token is the bearer token the management endpoints require.
func (x *Transmitter) Token() string { return x.token }

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func (x *Transmitter) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+x.token {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// metadata is the Transmitter Configuration Metadata (SSF 1.0 §7.1).
func (x *Transmitter) metadata(w http.ResponseWriter, r *http.Request) {
	u := x.srv.URL
	writeJSON(w, 200, map[string]any{
		"spec_version":               "1_0",
		"issuer":                     u,
		"jwks_uri":                   u + "/jwks.json",
		"delivery_methods_supported": []string{Push, Poll},
		"configuration_endpoint":     u + "/ssf/streams",
		"status_endpoint":            u + "/ssf/status",
		"verification_endpoint":      u + "/ssf/verify",
		"authorization_schemes":      []map[string]string{{"spec_urn": "urn:ietf:rfc:6749"}},
		"default_subjects":           "ALL",
	})
}

func (x *Transmitter) jwks(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	x.jwksHits++
	var keys []any
	for _, k := range x.keys {
		keys = append(keys, k.JWK())
	}
	x.mu.Unlock()
	writeJSON(w, 200, map[string]any{"keys": keys})
}

// JWKSHits counts the key set's fetches.
func (x *Transmitter) JWKSHits() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.jwksHits
}

// Rotate publishes a new signing key and, with retire, drops the others.
func (x *Transmitter) Rotate(kid string, retire bool) *Key {
	k := NewKey(kid)
	x.mu.Lock()
	defer x.mu.Unlock()
	if retire {
		x.keys = nil
	}
	x.keys = append(x.keys, k)
	return k
}

// Key is the current signing key.
func (x *Transmitter) Key() *Key {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.keys[len(x.keys)-1]
}

var supported = []string{
	CAEP + "session-revoked", CAEP + "credential-change", CAEP + "token-claims-change", CAEP + "assurance-level-change",
	CAEP + "device-compliance-change", RISC + "account-disabled", RISC + "account-enabled", RISC + "account-purged",
	RISC + "credential-compromise", RISC + "identifier-changed", RISC + "sessions-revoked",
	OAuth + "token-revoked", OAuth + "tokens-revoked",
}

// streamsEndpoint is the configuration endpoint (SSF 1.0 §8.1.1): POST
// creates, GET reads, DELETE deletes.
func (x *Transmitter) streamsEndpoint(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var req struct {
			Delivery struct {
				Method      string `json:"method"`
				EndpointURL string `json:"endpoint_url"`
				Authz       string `json:"authorization_header"`
			} `json:"delivery"`
			EventsRequested []string `json:"events_requested"`
			Description     string   `json:"description"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request", 400)
			return
		}
		s := &Stream{ID: "s-" + rand.Text()[:8], Method: req.Delivery.Method, Endpoint: req.Delivery.EndpointURL,
			Authz: req.Delivery.Authz, Status: "enabled", SetErrs: map[string]string{}}
		switch s.Method {
		case Push:
			if s.Endpoint == "" {
				http.Error(w, "push needs endpoint_url", 400)
				return
			}
		case Poll:
			s.Endpoint = x.srv.URL + "/ssf/poll/" + s.ID
		default:
			http.Error(w, "unsupported delivery method", 400)
			return
		}
		x.mu.Lock()
		x.streams[s.ID] = s
		x.mu.Unlock()
		writeJSON(w, http.StatusCreated, x.config(s, req.EventsRequested, req.Description))
	case http.MethodGet:
		x.mu.Lock()
		s := x.streams[r.URL.Query().Get("stream_id")]
		x.mu.Unlock()
		if s == nil {
			http.Error(w, "not found", 404)
			return
		}
		writeJSON(w, 200, x.config(s, supported, ""))
	case http.MethodDelete:
		x.mu.Lock()
		delete(x.streams, r.URL.Query().Get("stream_id"))
		x.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (x *Transmitter) config(s *Stream, requested []string, desc string) map[string]any {
	var delivered []string
	for _, e := range requested {
		for _, sup := range supported {
			if e == sup {
				delivered = append(delivered, e)
			}
		}
	}
	delivery := map[string]any{"method": s.Method, "endpoint_url": s.Endpoint}
	return map[string]any{
		"stream_id": s.ID, "iss": x.srv.URL, "aud": x.audience, "delivery": delivery,
		"events_supported": supported, "events_requested": requested, "events_delivered": delivered,
		"min_verification_interval": 15, "description": desc,
	}
}

func (x *Transmitter) status(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	s := x.streams[r.URL.Query().Get("stream_id")]
	x.mu.Unlock()
	if s == nil {
		http.Error(w, "not found", 404)
		return
	}
	writeJSON(w, 200, map[string]string{"stream_id": s.ID, "status": s.Status})
}

// verify answers 204 and then sends the verification event (SSF 1.0
// §8.1.4.2) on the stream, with the state the receiver gave.
func (x *Transmitter) verify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		StreamID string `json:"stream_id"`
		State    string `json:"state"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	x.mu.Lock()
	s := x.streams[req.StreamID]
	x.mu.Unlock()
	if s == nil {
		http.Error(w, "not found", 404)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	set := x.SET(SSF+"verification", map[string]any{"state": req.State}, map[string]any{"format": "opaque", "id": s.ID})
	go x.Emit(s.ID, set)
}

// poll is the RFC 8936 §2.4 endpoint: it records acknowledgements and
// errors, then returns up to maxEvents unacknowledged SETs.
func (x *Transmitter) poll(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ack     []string `json:"ack"`
		SetErrs map[string]struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		} `json:"setErrs"`
		MaxEvents         *int `json:"maxEvents"`
		ReturnImmediately bool `json:"returnImmediately"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.streams[r.PathValue("id")]
	if s == nil || s.Method != Poll {
		http.Error(w, "not found", 404)
		return
	}
	done := map[string]bool{}
	for _, jti := range req.Ack {
		s.Acks = append(s.Acks, jti)
		done[jti] = true
	}
	for jti, e := range req.SetErrs {
		s.SetErrs[jti] = e.Err
		done[jti] = true
	}
	var kept []queued
	for _, q := range s.queue {
		if !done[q.jti] {
			kept = append(kept, q)
		}
	}
	s.queue = kept
	max := 10
	if req.MaxEvents != nil {
		max = *req.MaxEvents
	}
	sets := map[string]string{}
	for _, q := range s.queue {
		if len(sets) == max {
			break
		}
		sets[q.jti] = q.set
	}
	writeJSON(w, 200, map[string]any{"sets": sets, "moreAvailable": len(s.queue) > len(sets)})
}

// SETOption changes a SET before it is signed.
type SETOption func(header, claims map[string]any) *Key

// Header sets (nil: deletes) a JOSE header member.
func Header(name string, value any) SETOption {
	return func(h, _ map[string]any) *Key { set(h, name, value); return nil }
}

// Claim sets (nil: deletes) a claim.
func Claim(name string, value any) SETOption {
	return func(_, c map[string]any) *Key { set(c, name, value); return nil }
}

// SignedBy signs with k (its kid in the header) instead of the current key.
func SignedBy(k *Key) SETOption {
	return func(h, _ map[string]any) *Key { h["kid"] = k.ID; return k }
}

func set(m map[string]any, name string, value any) {
	if value == nil {
		delete(m, name)
	} else {
		m[name] = value
	}
}

// SET makes a signed SET of one event (SSF 1.0 §4.1): iss, aud, iat, jti,
// the subject in "sub_id" (nil: none), the event under its type.
func (x *Transmitter) SET(eventType string, payload, subID map[string]any, opts ...SETOption) string {
	if payload == nil {
		payload = map[string]any{}
	}
	claims := map[string]any{
		"iss": x.srv.URL, "aud": x.audience, "iat": time.Now().Unix(), "jti": rand.Text(),
		"events": map[string]any{eventType: payload},
	}
	if subID != nil {
		claims["sub_id"] = subID
	}
	key := x.Key()
	header := map[string]any{"alg": "ES256", "kid": key.ID, "typ": "secevent+jwt"}
	for _, o := range opts {
		if k := o(header, claims); k != nil {
			key = k
		}
	}
	return key.Sign(header, claims)
}

// JTI reads a SET's jti (unverified: the test made it).
func JTI(set string) string {
	parts := strings.Split(set, ".")
	if len(parts) < 2 {
		return ""
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		JTI string `json:"jti"`
	}
	json.Unmarshal(b, &c)
	return c.JTI
}

// Emit delivers a SET on a stream: pushed now (RFC 8935 §2), its answer
// returned and recorded; or queued for polls (RFC 8936), answered 0.
func (x *Transmitter) Emit(streamID, set string) Response {
	x.mu.Lock()
	s := x.streams[streamID]
	x.mu.Unlock()
	if s == nil {
		panic("transmitter: no stream " + streamID)
	}
	if s.Method == Poll {
		x.mu.Lock()
		s.queue = append(s.queue, queued{jti: JTI(set), set: set})
		x.mu.Unlock()
		return Response{}
	}
	return x.Push(s.Endpoint, s.Authz, set)
}

// Push POSTs a body to a push endpoint as RFC 8935 §2 says (Content-Type
// application/secevent+jwt, Accept application/json, the Authorization
// header of the stream), and records the answer.
func (x *Transmitter) Push(endpoint, authz, body string) Response {
	return x.PushAs(endpoint, authz, "application/secevent+jwt", body)
}

// PushAs is Push with another Content-Type.
func (x *Transmitter) PushAs(endpoint, authz, contentType, body string) Response {
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader([]byte(body)))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{Status: -1, Body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	out := Response{Status: resp.StatusCode, Body: string(b)}
	x.mu.Lock()
	x.Responses = append(x.Responses, out)
	x.mu.Unlock()
	return out
}

// StreamState is a copy of a stream's acknowledgements and errors.
func (x *Transmitter) StreamState(id string) (acks []string, setErrs map[string]string, queued int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.streams[id]
	if s == nil {
		return nil, nil, 0
	}
	errs := map[string]string{}
	for k, v := range s.SetErrs {
		errs[k] = v
	}
	return append([]string(nil), s.Acks...), errs, len(s.queue)
}

// SetStatus changes a stream's status (as an administrator would) and
// sends the stream-updated event (SSF 1.0 §8.1.5).
func (x *Transmitter) SetStatus(id, status, reason string) Response {
	x.mu.Lock()
	s := x.streams[id]
	s.Status = status
	x.mu.Unlock()
	return x.Emit(id, x.SET(SSF+"stream-updated", map[string]any{"status": status, "reason": reason}, map[string]any{"format": "opaque", "id": id}))
}

// Describe names a push answer in test failures.
func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(r.Body)) }
