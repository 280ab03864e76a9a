// Package ssf receives the security events an identity provider sends under
// the OpenID Shared Signals Framework 1.0 (CAEP 1.0, RISC 1.0) and turns
// them into revocations: a session logged out, a user disabled, a password
// reset or a token revoked at the provider refuses the tokens concerned on
// every replica of the API within the revocation list's bound, and ends
// their open streams ([accesstoken.Guard]).
//
// A [Receiver] is the RFC 8935 push endpoint (an [http.Handler]) and an RFC
// 8936 poller ([Receiver.Poll]); it reads the transmitter's metadata at
// /.well-known/ssf-configuration, verifies every Security Event Token
// (RFC 8417) with the transmitter's published keys before it acts, and
// manages its stream at the transmitter ([Receiver.CreateStream],
// [Receiver.Stream], [Receiver.Status], [Receiver.Verify]).
//
// Events and their effects:
//
//   - CAEP session-revoked naming a session: [accesstoken.Revocations.RevokeSession]
//     for Config.SessionLifetime;
//   - CAEP session-revoked naming only a user, CAEP credential-change and
//     token-claims-change, RISC account-disabled, account-purged,
//     credential-compromise and sessions-revoked, OAuth tokens-revoked:
//     [accesstoken.Revocations.RevokeSubject], tokens issued before the
//     event (its event_timestamp, else the SET's toe, else its iat; never
//     later than iat);
//   - OAuth token-revoked naming a jti: [accesstoken.Revocations.RevokeToken]
//     for Config.SessionLifetime;
//   - SSF verification and stream-updated: the stream's own events
//     ([Receiver.Verify], [Receiver.Status]);
//   - any other event type, and subjects of another issuer than the
//     tokens': acknowledged and ignored.
package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/bridge"
)

// Config configures a [Receiver]. Transmitter, Audience and Revocations are
// required.
type Config struct {
	// Transmitter is the transmitter's issuer identifier, an https (or, for
	// tests, http) URL: its metadata is read from
	// /.well-known/ssf-configuration on that host (with the issuer's path
	// appended, SSF 1.0 §7.2), must name this issuer exactly, and every
	// SET's "iss" must equal it.
	Transmitter string

	// Issuer is the issuer of the access tokens whose subjects events may
	// name (Config.Issuer of the validators sharing Revocations): an
	// "iss_sub" subject of another issuer is acknowledged and ignored. Empty
	// means Transmitter (an identity provider that issues the tokens and
	// sends the events).
	Issuer string

	// Audience lists this receiver's identifiers, as the transmitter names
	// it in "aud": a SET must name one of them. Required.
	Audience []string

	// Revocations is the list the events write to: the one the API's
	// validators read (Config.Revocations), over a Store the replicas
	// share. The Store also records the "jti" of every SET processed, so
	// that a SET replayed to any replica is ignored. Required.
	Revocations *accesstoken.Revocations

	// PushAuthorization is the Authorization header value the transmitter
	// must send with each push (RFC 8935 §2; the stream's
	// delivery.authorization_header): a push without it, or with another
	// value, is refused with 401. Empty means pushes are not authenticated
	// beyond the SET's signature.
	PushAuthorization string

	// MaxAge is how old a SET's "iat" may be; an older SET is refused
	// (invalid_request). A SET issued more than 5 minutes in the future is
	// refused too. Zero means 24 hours.
	MaxAge time.Duration

	// SessionLifetime is how long a revoked session, or a token revoked by
	// "jti", stays refused: longer than the provider's access tokens live.
	// Zero means 24 hours.
	SessionLifetime time.Duration

	// ResolveSubject maps a subject in another format than "iss_sub" and
	// "opaque" ("email", "phone_number", "account", ...: the RFC 9493
	// object as decoded JSON) to the "sub" of the access tokens, reporting
	// false when it knows none. It must be safe for concurrent use. Nil
	// means such subjects are acknowledged and ignored.
	ResolveSubject func(ctx context.Context, subject map[string]any) (sub string, ok bool)

	// StreamID is the transmitter's stream this receiver uses, created
	// earlier (by [Receiver.CreateStream] or the transmitter's console):
	// NewReceiver reads it, and Poll uses its poll endpoint. Empty means
	// none until CreateStream; pushes are received either way.
	StreamID string

	// Algorithms is the allow-list of JWS "alg" values for SETs. Nil means
	// accesstoken's default list (RSA, ECDSA and EdDSA; never "none" or
	// HMAC).
	Algorithms []string

	// Observer sees the outcome of every SET received. Nil means none.
	Observer Observer

	// HTTPClient makes every request to the transmitter: metadata, keys,
	// stream management and polls. The management endpoints require the
	// receiver to authenticate (SSF 1.0 §8.1; typically an OAuth access
	// token): give a client whose transport adds it. Nil means
	// [http.DefaultClient].
	HTTPClient *http.Client

	// Now returns the current time for checking "iat". Nil means
	// [time.Now].
	Now func() time.Time

	// Logger receives refused SETs (with their reason, never the SET), key
	// and metadata refresh failures and stream status changes. Nil means no
	// logging.
	Logger *slog.Logger
}

// A Receiver receives a transmitter's Security Event Tokens, by push (it is
// the RFC 8935 endpoint: mount it where the stream's delivery endpoint_url
// points) or by polling ([Receiver.Poll]), and applies their events to
// Config.Revocations. It is safe for concurrent use; replicas of an API may
// each run one over a shared Store.
type Receiver struct {
	cfg      Config
	issuer   string // of the access tokens
	store    accesstoken.Store
	client   *http.Client
	now      func() time.Time
	logger   *slog.Logger
	maxAge   time.Duration
	lifetime time.Duration

	state atomic.Pointer[transmitterState]

	mu       sync.Mutex
	stream   Stream                   // the stream in use; ID "" when none
	status   StreamStatus             // last status learnt from a stream-updated event or Status
	waiting  map[string]chan struct{} // Verify calls by state
	pending  []string                 // poll: jtis processed, to acknowledge
	setErrs  map[string]setError      // poll: SETs refused, to report
	pollBusy chan struct{}            // one Poll at a time

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// transmitterState is what the metadata gave, and the validator that
// verifies SETs with its keys.
type transmitterState struct {
	meta     transmitterMetadata
	verifier *accesstoken.Validator
}

// transmitterMetadata is the transmitter's configuration (SSF 1.0 §7.1),
// as read from its well-known document: what the receiver uses of it.
type transmitterMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	ConfigurationEndpoint string `json:"configuration_endpoint"`
	StatusEndpoint        string `json:"status_endpoint"`
	VerificationEndpoint  string `json:"verification_endpoint"`
}

const (
	defaultMaxAge     = 24 * time.Hour
	defaultLifetime   = 24 * time.Hour
	futureLeeway      = 5 * time.Minute
	metadataRefresh   = time.Hour
	metadataRetry     = time.Minute
	fetchTimeout      = 10 * time.Second
	maxMetadataBytes  = 64 << 10
	maxManagementBody = 1 << 20
)

// requestTimeout bounds any one request to the transmitter, whatever the
// caller's context allows (a variable for the tests).
var requestTimeout = 30 * time.Second

// NewReceiver reads the transmitter's metadata (and, with Config.StreamID,
// its stream) and returns a receiver that verifies SETs with the
// transmitter's keys, fetched in the background and refreshed as an
// access-token validator's are (an unknown "kid" fetches them again). ctx
// bounds the start only. The metadata is read again every hour; when that
// fails the last good one stays in use.
func NewReceiver(ctx context.Context, cfg Config) (*Receiver, error) {
	switch {
	case cfg.Transmitter == "":
		return nil, errors.New("ssf: Config.Transmitter is required")
	case len(cfg.Audience) == 0 || containsEmpty(cfg.Audience):
		return nil, errors.New("ssf: Config.Audience must list at least one non-empty audience")
	case cfg.Revocations == nil:
		return nil, errors.New("ssf: Config.Revocations is required")
	case cfg.MaxAge < 0 || cfg.SessionLifetime < 0:
		return nil, errors.New("ssf: Config.MaxAge and Config.SessionLifetime must not be negative")
	}
	if err := checkURL(cfg.Transmitter); err != nil {
		return nil, fmt.Errorf("ssf: Config.Transmitter: %w", err)
	}
	store, _ := bridge.Store(cfg.Revocations).(accesstoken.Store)
	r := &Receiver{
		cfg:      cfg,
		issuer:   cfg.Issuer,
		store:    store,
		client:   cfg.HTTPClient,
		now:      cfg.Now,
		logger:   cfg.Logger,
		maxAge:   cfg.MaxAge,
		lifetime: cfg.SessionLifetime,
		waiting:  map[string]chan struct{}{},
		setErrs:  map[string]setError{},
		pollBusy: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if r.issuer == "" {
		r.issuer = cfg.Transmitter
	}
	if r.client == nil {
		r.client = http.DefaultClient
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.maxAge == 0 {
		r.maxAge = defaultMaxAge
	}
	if r.lifetime == 0 {
		r.lifetime = defaultLifetime
	}
	st, err := r.load(ctx, nil)
	if err != nil {
		return nil, err
	}
	r.state.Store(st)
	if cfg.StreamID != "" {
		s, err := r.readStream(ctx, cfg.StreamID)
		if err != nil {
			st.verifier.Close()
			return nil, err
		}
		r.stream = s
	}
	go r.refresh()
	return r, nil
}

func containsEmpty(list []string) bool {
	for _, s := range list {
		if s == "" {
			return true
		}
	}
	return false
}

// checkURL accepts absolute http and https URLs without a fragment.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	case u.Fragment != "" || u.RawQuery != "":
		return fmt.Errorf("%q has a query or fragment", raw)
	}
	return nil
}

// metadataURL is where the transmitter's metadata is: the well-known
// segment between host and path (SSF 1.0 §7.2).
func metadataURL(issuer string) string {
	u, _ := url.Parse(issuer)
	path := strings.TrimSuffix(u.Path, "/")
	u.Path = "/.well-known/ssf-configuration" + path
	u.RawPath = ""
	return u.String()
}

// load reads the metadata and, when its jwks_uri differs from old's, makes
// a verifier for the keys there.
func (r *Receiver) load(ctx context.Context, old *transmitterState) (*transmitterState, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	body, err := r.do(ctx, http.MethodGet, metadataURL(r.cfg.Transmitter), nil, http.StatusOK, maxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("ssf: reading the transmitter's metadata: %w", err)
	}
	var meta transmitterMetadata
	if err := json.Unmarshal(body, &meta); err != nil {
		return nil, fmt.Errorf("ssf: the transmitter's metadata: %w", err)
	}
	switch {
	case meta.Issuer != r.cfg.Transmitter:
		return nil, fmt.Errorf("ssf: the transmitter's metadata names the issuer %q, not %q", truncate(meta.Issuer), r.cfg.Transmitter)
	case meta.JWKSURI == "":
		return nil, errors.New("ssf: the transmitter's metadata has no jwks_uri: its SETs could not be verified")
	}
	for name, u := range map[string]string{"jwks_uri": meta.JWKSURI, "configuration_endpoint": meta.ConfigurationEndpoint,
		"status_endpoint": meta.StatusEndpoint, "verification_endpoint": meta.VerificationEndpoint} {
		if u != "" {
			if err := checkURL(u); err != nil {
				return nil, fmt.Errorf("ssf: the transmitter's %s: %w", name, err)
			}
		}
	}
	if old != nil && old.meta.JWKSURI == meta.JWKSURI {
		return &transmitterState{meta: meta, verifier: old.verifier}, nil
	}
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:            r.cfg.Transmitter,
		Audience:          r.cfg.Audience,
		JWKSURL:           meta.JWKSURI,
		Algorithms:        r.cfg.Algorithms,
		TokenTypes:        []string{"secevent+jwt"},
		Leeway:            futureLeeway,
		HTTPClient:        r.client,
		Now:               r.now,
		Logger:            r.cfg.Logger,
		VerifiedCacheSize: -1, // each SET is processed once
		RoleClaims:        []string{},
	})
	if err != nil {
		return nil, fmt.Errorf("ssf: %w", err)
	}
	bridge.ExpiryOptional(v) // SETs carry no "exp" (SSF 1.0 §4.1.7)
	return &transmitterState{meta: meta, verifier: v}, nil
}

// refresh reads the metadata again every hour (every minute after a
// failure) until Close.
func (r *Receiver) refresh() {
	defer close(r.done)
	wait := metadataRefresh
	for {
		t := time.NewTimer(wait)
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		old := r.state.Load()
		st, err := r.load(context.Background(), old)
		if err != nil {
			r.logger.Warn("ssf: refreshing the transmitter's metadata failed; the last good one stays in use", "transmitter", r.cfg.Transmitter, "error", err)
			wait = metadataRetry
			continue
		}
		wait = metadataRefresh
		r.state.Store(st)
		if st.verifier != old.verifier {
			old.verifier.Close()
		}
	}
}

// meta is the transmitter's metadata as last read.
func (r *Receiver) meta() transmitterMetadata { return r.state.Load().meta }

// Close stops the metadata refresh and the key fetches. Pushes and polls
// fail afterwards with 503. Close is safe to call more than once.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.state.Load().verifier.Close()
	})
	return nil
}

// do makes a request to the transmitter with a JSON body (nil: none) and
// returns the response body when the status is want (0: any 2xx). It
// gives up after requestTimeout even when ctx has no deadline: a
// transmitter that stops answering never hangs a Poll.
func (r *Receiver) do(ctx context.Context, method, u string, body any, want int, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s: response larger than %d bytes", method, redact(u), limit)
	}
	if want == 0 && resp.StatusCode/100 != 2 || want != 0 && resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: HTTP status %d", method, redact(u), resp.StatusCode)
	}
	return data, nil
}

// redact drops a URL's query, which may carry a stream ID, and user info.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.RawQuery, p.User, p.Fragment = "", nil, ""
	return p.String()
}

// truncate bounds text from a remote party in errors and logs.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
