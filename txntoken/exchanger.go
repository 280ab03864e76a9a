package txntoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ExchangerConfig configures an [Exchanger].
type ExchangerConfig struct {
	// Endpoint is the Transaction Token Service's token endpoint, https
	// (the access token travels in the request: draft §7.4 requires the
	// service to be authenticated). Required.
	Endpoint string

	// TrustDomain is the "audience" of the request (draft §7.1). Required.
	TrustDomain string

	// ClientID and ClientSecret authenticate the gateway to the service
	// with HTTP Basic (RFC 6749 §2.3.1). Empty means the HTTPClient
	// authenticates (a client certificate: RFC 8705, the draft's
	// preference for asymmetric methods).
	ClientID, ClientSecret string

	// HTTPClient makes the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client

	// Timeout bounds each exchange. Zero means 5 seconds.
	Timeout time.Duration
}

// An Exchanger obtains Transaction Tokens from a separate Transaction
// Token Service by RFC 8693 token exchange, profiled by the draft (§7): the
// caller's access token as the subject token, requested_token_type
// txn_token, the trust domain as audience, scope, request_context and
// request_details. It is safe for concurrent use.
type Exchanger struct {
	cfg    ExchangerConfig
	client *http.Client
}

// NewExchanger checks cfg and returns an Exchanger.
func NewExchanger(cfg ExchangerConfig) (*Exchanger, error) {
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case cfg.Endpoint == "" || err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("txntoken: ExchangerConfig.Endpoint must be an absolute https URL")
	case cfg.TrustDomain == "":
		return nil, errors.New("txntoken: ExchangerConfig.TrustDomain is required")
	case cfg.Timeout < 0:
		return nil, errors.New("txntoken: ExchangerConfig.Timeout is negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	e := &Exchanger{cfg: cfg, client: cfg.HTTPClient}
	if e.client == nil {
		e.client = http.DefaultClient
	}
	return e, nil
}

// ErrExchange wraps every failure of an exchange: the service unreachable,
// an error answer, or an answer that is not a Transaction Token Response.
// A gateway answers 503 and never lets the request through without a token.
var ErrExchange = errors.New("txntoken: the Transaction Token Service did not issue a token")

const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	accessTokenType    = "urn:ietf:params:oauth:token-type:access_token"
	maxResponse        = 64 << 10
)

// Mint exchanges r.AccessToken for a Transaction Token.
func (e *Exchanger) Mint(ctx context.Context, r Request) (string, error) {
	if r.AccessToken == "" {
		return "", fmt.Errorf("%w: no access token to exchange", ErrExchange)
	}
	scope := r.Scope
	if scope == "" && r.Claims != nil {
		scope = strings.Join(r.Claims.Scopes, " ")
	}
	form := url.Values{
		"grant_type":           {grantTokenExchange},
		"requested_token_type": {TokenTypeURN},
		"audience":             {e.cfg.TrustDomain},
		"subject_token":        {r.AccessToken},
		"subject_token_type":   {accessTokenType},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	if rc, _ := json.Marshal(r.Context); string(rc) != "{}" {
		form.Set("request_context", string(rc))
	}
	if len(r.Details) > 0 {
		rd, err := json.Marshal(r.Details)
		if err != nil {
			return "", fmt.Errorf("%w: request details: %v", ErrExchange, err)
		}
		form.Set("request_details", string(rd))
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrExchange, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if e.cfg.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(e.cfg.ClientID), url.QueryEscape(e.cfg.ClientSecret))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrExchange, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil || len(body) > maxResponse {
		return "", fmt.Errorf("%w: the answer could not be read whole", ErrExchange)
	}
	var answer struct {
		AccessToken     string  `json:"access_token"`
		IssuedTokenType string  `json:"issued_token_type"`
		TokenType       string  `json:"token_type"`
		RefreshToken    *string `json:"refresh_token"`
		Error           string  `json:"error"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return "", fmt.Errorf("%w: HTTP %d, not JSON", ErrExchange, resp.StatusCode)
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%w: HTTP %d, error %q", ErrExchange, resp.StatusCode, truncate(answer.Error))
	case answer.IssuedTokenType != TokenTypeURN:
		return "", fmt.Errorf("%w: issued_token_type %q, not %s (draft §7.3)", ErrExchange, truncate(answer.IssuedTokenType), TokenTypeURN)
	case !strings.EqualFold(answer.TokenType, "N_A"):
		return "", fmt.Errorf("%w: token_type %q, not N_A (draft §7.3)", ErrExchange, truncate(answer.TokenType))
	case answer.RefreshToken != nil:
		return "", fmt.Errorf("%w: the answer carries a refresh token (draft §7.3 forbids it)", ErrExchange)
	case strings.Count(answer.AccessToken, ".") != 2 || strings.ContainsAny(answer.AccessToken, " \t\r\n,"):
		return "", fmt.Errorf("%w: the issued token is not a compact JWS", ErrExchange)
	}
	return answer.AccessToken, nil
}

// redactURLError drops the URL from a client error: it is configuration,
// but the error text goes to logs with the rest.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
