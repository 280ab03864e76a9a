package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the key source: it finds the issuer's JWKS (RFC 8414, then
// OpenID Connect discovery), fetches it in the background, and answers the
// validator from memory. Its rules:
//
//   - A token whose key is unknown is judged only by a fetch that started
//     after the token arrived. It joins such a fetch when one is under way;
//     it waits for an older one (which may still bring its key) and then,
//     if need be, starts its own.
//   - Fetches started by tokens are limited to refreshBurst per
//     MinRefreshInterval, so that made-up key IDs cannot drive traffic to the
//     issuer, while two rotations in quick succession are both picked up at
//     once. Scheduled fetches and Refresh do not count. No caller ever waits
//     on the limit: a refused refresh is an answer at once.
//   - At most one fetch runs at a time; every caller that needs one shares it.
//   - A failed fetch, or a document with no usable key, keeps the last good
//     keys, for at most MaxKeyAge after they were last fetched.
//   - Responses are capped in size and time; Close stops every goroutine.
//   - With Config.Keys the set is static: no request is ever made.

const (
	defaultRefreshInterval    = time.Hour
	defaultMinRefreshInterval = 30 * time.Second
	defaultFetchTimeout       = 10 * time.Second
	defaultMaxKeyAge          = 24 * time.Hour
	maxBackoff                = time.Minute
	maxMetadataBytes          = 256 << 10
	maxJWKSBytes              = 512 << 10

	// refreshBurst is how many fetches tokens with unknown key IDs may start
	// within MinRefreshInterval.
	refreshBurst = 3
)

var (
	errRateLimited = errors.New("key refresh skipped: the keys were fetched moments ago")
	errClosed      = errors.New("validator is closed")
	errNoKeysYet   = errors.New("no keys fetched yet")
	errKeysTooOld  = errors.New("keys too old: refreshes have failed for longer than MaxKeyAge")
)

// keyState is what the last good fetch produced; it is replaced whole.
type keyState struct {
	set     *keySet
	fetched time.Time
}

// fetchCall is one fetch that many callers may wait on.
type fetchCall struct {
	seq     uint64 // the fetch's number: fetches are numbered from 1 as they start
	byToken bool   // started by a token with an unknown key: the request says Cache-Control: no-cache
	done    chan struct{}
	next    time.Duration // when the next periodic refresh is due
	err     error
}

type keySource struct {
	issuer     string
	jwksURL    string // configured; "" means discover it
	client     *http.Client
	allowed    map[string]*algorithm
	logger     *slog.Logger
	refresh    time.Duration
	minRefresh time.Duration
	timeout    time.Duration
	maxKeyAge  time.Duration
	observer   Observer // Config.Observer
	sameOrigin bool     // Profile.SameOriginJWKS: a discovered jwks_uri must share the issuer's origin

	static    bool   // Config.Keys: the state never changes and nothing is fetched
	ambiguous string // kids dropped as ambiguous by the last fetch, as logged

	state   atomic.Pointer[keyState]
	started atomic.Uint64 // fetches started so far; written under mu

	mu       sync.Mutex
	inflight *fetchCall
	asked    [refreshBurst]time.Time // start times of the last token-started fetches, a ring
	askedAt  int                     // the oldest entry of asked
	lastErr  error                   // how the last finished fetch ended
	meta     *issuerMetadata         // discovered metadata, once it was read

	ctx    context.Context // the source's lifetime; cancelled by close
	cancel context.CancelFunc
	closed atomic.Bool // set by close; read on every validation, unlike ctx.Err, without a lock
	wg     sync.WaitGroup
}

// start launches the background refresher, unless the keys are static, and
// returns the first fetch (nil for static keys), for NewValidator's
// StrictStart to wait on: waiting through startFetch instead could start a
// second fetch when the first had already finished.
func (s *keySource) start() *fetchCall {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.static {
		return nil
	}
	first, err := s.startFetch(false)
	s.wg.Add(1)
	go s.run(first, err)
	return first
}

func (s *keySource) close() {
	s.closed.Store(true)
	s.cancel()
	s.wg.Wait()
}

// run refreshes the keys until the source is closed: on the schedule the
// last good response asked for, and with capped exponential backoff after a
// failure.
func (s *keySource) run(c *fetchCall, err error) {
	defer s.wg.Done()
	failures := 0
	for first := true; ; first = false {
		var wait time.Duration
		if !first {
			c, err = s.startFetch(false)
		}
		if err == nil {
			select {
			case <-c.done:
				err = c.err
			case <-s.ctx.Done():
				return
			}
		}
		if err != nil {
			failures++
			wait = backoff(failures)
		} else {
			failures = 0
			wait = c.next
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff is 1s, 2s, 4s ... up to maxBackoff, with ±20% jitter so that many
// replicas do not retry in step.
func backoff(failures int) time.Duration {
	d := maxBackoff
	if failures < 7 {
		d = min(time.Second<<(failures-1), maxBackoff)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// startFetch returns the fetch under way, or starts one. With limited set
// (for tokens whose key is unknown) it refuses to start one when refreshBurst
// such starts happened within minRefresh; scheduled fetches and Refresh do
// not count, so a key published just after one is still picked up at once.
func (s *keySource) startFetch(limited bool) (*fetchCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil, errClosed
	}
	if s.inflight != nil {
		return s.inflight, nil
	}
	if limited {
		now := time.Now()
		if oldest := s.asked[s.askedAt]; !oldest.IsZero() && now.Sub(oldest) < s.minRefresh {
			return nil, errRateLimited
		}
		s.asked[s.askedAt] = now
		s.askedAt = (s.askedAt + 1) % refreshBurst
	}
	c := &fetchCall{seq: s.started.Add(1), done: make(chan struct{}), byToken: limited}
	s.inflight = c
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.next, c.err = s.fetch(s.ctx, c.byToken)
		if c.err != nil {
			s.logger.Warn("accesstoken: key refresh failed; keeping the last good keys", "issuer", s.issuer, "error", c.err)
		}
		s.mu.Lock()
		s.inflight = nil
		s.lastErr = c.err
		s.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// await waits for a fetch, or for ctx.
func (s *keySource) await(ctx context.Context, limited bool) error {
	c, err := s.startFetch(limited)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// current returns the keys in force, or why there are none.
func (s *keySource) current() (*keySet, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	st := s.state.Load()
	if st == nil {
		return nil, errNoKeysYet
	}
	if !s.static && time.Since(st.fetched) > s.maxKeyAge {
		return nil, errKeysTooOld
	}
	return st.set, nil
}

// lookup returns the keys that may verify a token signed with a under kid
// (some may not fit a; at least one does). When none is known it refreshes
// (shared, limited), trusting only a fetch that started after the token
// arrived: a document read before then is no proof that the key is unknown.
func (s *keySource) lookup(ctx context.Context, a *algorithm, kid []byte, hasKID bool) ([]*verificationKey, *Error) {
	arrived := s.started.Load() // fetches numbered above this started after the token arrived
	for {
		set, err := s.current()
		if err == nil {
			if keys := set.pool(kid, hasKID); anyFits(a, keys) {
				return keys, nil
			}
			if s.static {
				return nil, unknownKey("Config.Keys", a, kid, hasKID, "")
			}
		}
		if err == errClosed {
			return nil, newError(ErrUnavailable, "", err)
		}
		c, startErr := s.startFetch(true)
		if startErr != nil {
			return nil, s.refused(err, startErr, a, kid, hasKID)
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, newError(ErrUnavailable, "", ctx.Err())
		}
		if c.seq <= arrived {
			continue // an older fetch: look again, and start a fresh one if need be
		}
		set, err = s.current()
		if err != nil {
			return nil, newError(ErrUnavailable, "", errors.Join(err, c.err))
		}
		if keys := set.pool(kid, hasKID); anyFits(a, keys) {
			return keys, nil
		}
		if c.err != nil {
			// The key may be new, and we could not ask: the client should retry.
			return nil, newError(ErrUnavailable, "", c.err)
		}
		return nil, unknownKey("the JWKS", a, kid, hasKID, "")
	}
}

// unknownKey is the refusal of a token whose key is not in where, saying
// which kid and alg it named (truncated: header text).
func unknownKey(where string, a *algorithm, kid []byte, hasKID bool, more string) *Error {
	named := "no kid"
	if hasKID {
		named = fmt.Sprintf("kid %q", truncate(string(kid)))
	}
	return newError(ErrInvalidToken, descUnknownKey, fmt.Errorf("no key in %s fits %s and alg %s%s", where, named, a.name, more))
}

// refused answers a token whose key is unknown when no fresh fetch could be
// started. Refused by the limit, while the keys in hand are good and the last
// fetch succeeded: refreshBurst fetches within MinRefreshInterval found no
// such key, so the token is invalid_token (see "Key rotation" in the package
// docs for why not ErrUnavailable). Otherwise the key may exist and could not
// be fetched: ErrUnavailable.
func (s *keySource) refused(keysErr, startErr error, a *algorithm, kid []byte, hasKID bool) *Error {
	if keysErr != nil {
		return newError(ErrUnavailable, "", errors.Join(keysErr, startErr))
	}
	if startErr == errRateLimited {
		s.mu.Lock()
		lastErr := s.lastErr
		s.mu.Unlock()
		if lastErr == nil {
			return unknownKey("the JWKS", a, kid, hasKID, "; refresh limit reached")
		}
		return newError(ErrUnavailable, "", errors.Join(startErr, lastErr))
	}
	return newError(ErrUnavailable, "", startErr)
}

// fetch reads the JWKS once and, when it holds usable keys, installs them.
// noCache asks caches on the way not to answer from a stored copy.
func (s *keySource) fetch(ctx context.Context, noCache bool) (next time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u := s.jwksURL
	if u == "" {
		meta, err := s.metadata(ctx)
		if err != nil {
			return 0, err
		}
		u = meta.jwksURI
	}
	ctx, end := startCall(ctx, s.observer, Call{Kind: callJWKS, Issuer: s.issuer, URL: u})
	defer func() { end(err) }()
	var body []byte
	var header http.Header
	if path, isFile, _ := jwksFilePath(u); isFile {
		body, err = readFileLimited(path, maxJWKSBytes)
	} else {
		body, header, err = httpGet(ctx, s.client, u, maxJWKSBytes, noCache)
	}
	if err != nil {
		return 0, fmt.Errorf("JWKS: %w", err)
	}
	set, skipped, ambiguous, err := parseJWKS(body, s.allowed)
	for _, e := range skipped {
		s.logger.Info("accesstoken: JWKS key not used", "issuer", s.issuer, "reason", e)
	}
	// Logged when the list changes, not on every refresh.
	if list := strings.Join(ambiguous, " "); list != s.ambiguous {
		s.ambiguous = list
		if list != "" {
			s.logger.Warn("accesstoken: JWKS keys dropped: one kid names different keys", "issuer", s.issuer, "kids", ambiguous)
		}
	}
	if err != nil {
		return 0, err
	}
	s.state.Store(&keyState{set: set, fetched: time.Now()})
	return s.nextRefresh(header), nil
}

// nextRefresh honours the JWKS response's Cache-Control max-age within
// [minRefresh, refresh]; without one the refresh interval applies.
func (s *keySource) nextRefresh(h http.Header) time.Duration {
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return s.minRefresh
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			d := time.Duration(min(n, int64(s.refresh/time.Second))) * time.Second
			return max(d, s.minRefresh)
		}
	}
	return s.refresh
}

// issuerMetadata is the part of RFC 8414 / OpenID Connect discovery metadata
// this package uses.
type issuerMetadata struct {
	jwksURI               string
	introspectionEndpoint string
}

// metadata discovers the issuer's metadata once and remembers it.
func (s *keySource) metadata(ctx context.Context) (*issuerMetadata, error) {
	s.mu.Lock()
	meta := s.meta
	s.mu.Unlock()
	if meta != nil {
		return meta, nil
	}
	ctx, end := startCall(ctx, s.observer, Call{Kind: callDiscovery, Issuer: s.issuer, URL: s.issuer})
	meta, err := discover(ctx, s.client, s.issuer, s.sameOrigin)
	end(err)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.meta = meta
	s.mu.Unlock()
	return meta, nil
}

// discoveryURLs returns the RFC 8414 §3.1 metadata URL (the well-known
// segment goes between host and path) and the OpenID Connect Discovery §4
// one (appended to the issuer).
func discoveryURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.Path, "/")
	rfc8414 := *u
	rfc8414.Path = "/.well-known/oauth-authorization-server" + path
	rfc8414.RawPath = ""
	return []string{rfc8414.String(), strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"}
}

// discover reads the issuer's metadata, trying RFC 8414 first. The
// document's "issuer" must equal ours exactly (RFC 8414 §3.3), or an
// attacker who controls one document could point us at their keys. With
// sameOrigin, its jwks_uri must also be on the issuer's origin.
func discover(ctx context.Context, client *http.Client, issuer string, sameOrigin bool) (*issuerMetadata, error) {
	var errs []error
	for _, u := range discoveryURLs(issuer) {
		body, _, err := httpGet(ctx, client, u, maxMetadataBytes, false)
		if err == nil {
			var meta *issuerMetadata
			if meta, err = parseMetadata(body, issuer); err == nil {
				if !sameOrigin || sameOriginURL(issuer, meta.jwksURI) {
					return meta, nil
				}
				err = fmt.Errorf("jwks_uri %q is not on the issuer's origin (Profile.SameOriginJWKS)", truncate(meta.jwksURI))
			}
		}
		errs = append(errs, fmt.Errorf("discovery at %s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func parseMetadata(body []byte, issuer string) (*issuerMetadata, error) {
	members, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	meta := &issuerMetadata{}
	var got string
	for _, m := range members {
		var target *string
		switch string(m.name) {
		case "issuer":
			target = &got
		case "jwks_uri":
			target = &meta.jwksURI
		case "introspection_endpoint":
			target = &meta.introspectionEndpoint
		default:
			continue
		}
		if *target, err = jsonString(m.value); err != nil {
			return nil, fmt.Errorf("metadata member %q: %w", m.name, err)
		}
	}
	if got != issuer {
		return nil, fmt.Errorf("metadata names issuer %q, want %q", got, issuer)
	}
	if meta.jwksURI == "" {
		return nil, errors.New("metadata has no jwks_uri")
	}
	if err := checkEndpointURL(meta.jwksURI); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	if meta.introspectionEndpoint != "" {
		if err := checkEndpointURL(meta.introspectionEndpoint); err != nil {
			return nil, fmt.Errorf("introspection_endpoint: %w", err)
		}
	}
	return meta, nil
}

// checkEndpointURL accepts absolute http and https URLs with a host.
func checkEndpointURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// checkJWKSURL accepts what checkEndpointURL accepts and file URLs of an
// absolute path.
func checkJWKSURL(raw string) error {
	if _, isFile, err := jwksFilePath(raw); isFile {
		return err
	}
	return checkEndpointURL(raw)
}

// jwksFilePath reads a file URL (RFC 8089) for Config.JWKSURL: isFile is
// true when raw has the file scheme, and err says why it names no absolute
// local path.
func jwksFilePath(raw string) (path string, isFile bool, err error) {
	if len(raw) < 5 || !strings.EqualFold(raw[:5], "file:") {
		return "", false, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", true, fmt.Errorf("%q is not a file URL of an absolute path, such as file:///etc/keys/jwks.json", raw)
	}
	return filepath.FromSlash(u.Path), true, nil
}

// readFileLimited reads a JWK Set from disk: at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

// httpGet fetches a JSON document: status 200 and at most limit bytes.
// noCache sends Cache-Control: no-cache (RFC 9111 §5.2.1.4).
func httpGet(ctx context.Context, client *http.Client, u string, limit int64, noCache bool) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if noCache {
		req.Header.Set("Cache-Control", "no-cache")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	body, err := readLimited(resp.Body, limit)
	return body, resp.Header, err
}

// readLimited reads at most limit bytes and fails on more.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	return body, nil
}
