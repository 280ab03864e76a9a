package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tokenguard/accesstoken"
)

const (
	googleIssuer    = "https://accounts.google.com"
	googleBare      = "accounts.google.com"
	googleCerts     = "https://www.googleapis.com/oauth2/v3/certs"
	googleTokenInfo = "https://oauth2.googleapis.com/tokeninfo"
)

// Google configures a validator for ID tokens that Google signs for one of
// audience: Sign in with Google (audience is the OAuth client ID,
// "….apps.googleusercontent.com"), and service-to-service calls to Cloud
// Run, Cloud Functions or an IAP-protected app with a Google-signed ID token
// (audience is the receiving service's URL or the IAP client ID).
//
// Google writes "iss" as "https://accounts.google.com" or as the bare
// "accounts.google.com"; both are accepted, with the keys of
// https://www.googleapis.com/oauth2/v3/certs. Claims.Subject is "sub" (use
// it, not "email", as the user's key); Claims.ClientID is "azp". Google's
// access tokens are not JWTs: see [GoogleAccessTokens].
//
// References: https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken,
// https://cloud.google.com/run/docs/authenticating/service-to-service.
func Google(audience ...string) accesstoken.MultiIssuerConfig {
	cfg := accesstoken.Config{
		Issuer:     googleIssuer,
		JWKSURL:    googleCerts,
		Audience:   audience,
		RoleClaims: []string{},
		Profile:    &accesstoken.Profile{ClientIDClaims: []string{"/azp"}},
	}
	bare := cfg
	bare.Issuer = googleBare
	return accesstoken.MultiIssuerConfig{Issuers: []accesstoken.Config{cfg, bare}}
}

// GoogleAccessTokens configures a validator for Google's OAuth 2.0 access
// tokens (opaque "ya29." strings), issued to one of clientIDs.
//
// Google offers no RFC 7662 introspection: such a token is checked at
// https://oauth2.googleapis.com/tokeninfo, sent in a POST body (never in the
// URL, where logs would keep it). A 200 answer whose "aud" or "azp" is one
// of clientIDs and whose "exp" (a string of seconds) is in the future
// accepts the token; a 400 answer refuses it ([accesstoken.ErrInvalidToken]);
// any other answer, or none, is [accesstoken.ErrUnavailable]. Answers are
// cached no longer than "exp" (IntrospectionConfig.CacheTTL, five minutes
// by default, bounds them further), concurrent checks of one token share
// one call, and IntrospectionConfig.Store shares answers among replicas.
//
// Claims.Introspected is true; Claims.Scopes is "scope"; Claims.ClientID
// "azp"; Claims.Subject "sub" (present when the token grants openid, email
// or profile). Claims.Decode sees tokeninfo's answer, with "exp" as a
// number. A JWT sent to this validator is refused: Google's JWTs are ID
// tokens (see [Google]).
//
// Reference: https://developers.google.com/identity/protocols/oauth2/javascript-implicit-flow#tokeninfo-validation.
func GoogleAccessTokens(clientIDs ...string) accesstoken.Config {
	return accesstoken.Config{
		Issuer:     googleIssuer,
		JWKSURL:    googleCerts,
		Audience:   clientIDs,
		RoleClaims: []string{},
		Introspection: &accesstoken.IntrospectionConfig{
			Endpoint:   googleTokenInfo,
			Introspect: tokenInfo,
		},
		Profile: &accesstoken.Profile{Check: func(_ context.Context, c *accesstoken.Claims) error {
			if !c.Introspected {
				return errors.New("a JWT sent to GoogleAccessTokens: Google's access tokens are opaque, " +
					"and its JWTs are ID tokens (validate those with provider.Google)")
			}
			return nil
		}},
	}
}

const maxTokenInfoBytes = 64 << 10

// tokenInfo asks Google's tokeninfo endpoint about token and answers in
// RFC 7662 form: "active", "exp" as a number, "client_id" from "azp", and
// "aud" listing both "aud" and "azp". It never puts the token in an error.
func tokenInfo(ctx context.Context, client *http.Client, endpoint, token string) ([]byte, error) {
	body := url.Values{"access_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return nil, errors.New("tokeninfo: bad request URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tokeninfo: %w", redact(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest:
		// Google's answer for a token it does not know, or one that
		// expired: {"error": "invalid_token", ...}.
		return []byte(`{"active":false}`), nil
	default:
		return nil, fmt.Errorf("tokeninfo: HTTP status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenInfoBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tokeninfo: %w", err)
	}
	if len(raw) > maxTokenInfoBytes {
		return nil, errors.New("tokeninfo: answer too large")
	}
	return tokenInfoAnswer(raw)
}

// tokenInfoAnswer turns tokeninfo's 200 answer into an RFC 7662 one.
func tokenInfoAnswer(raw []byte) ([]byte, error) {
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(raw, &answer); err != nil || answer == nil {
		return nil, errors.New("tokeninfo: answer is not a JSON object")
	}
	var exp, aud, azp string
	if err := json.Unmarshal(answer["exp"], &exp); err != nil {
		return nil, errors.New(`tokeninfo: answer has no "exp" string`)
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n <= 0 {
		return nil, errors.New(`tokeninfo: "exp" is not a number of seconds`)
	}
	json.Unmarshal(answer["aud"], &aud)
	json.Unmarshal(answer["azp"], &azp)
	audiences := []string{}
	for _, a := range []string{aud, azp} {
		if a != "" && (len(audiences) == 0 || audiences[0] != a) {
			audiences = append(audiences, a)
		}
	}
	answer["active"] = json.RawMessage("true")
	answer["exp"] = json.RawMessage(strconv.FormatInt(n, 10))
	answer["aud"], _ = json.Marshal(audiences)
	if azp != "" {
		answer["client_id"], _ = json.Marshal(azp)
	}
	return json.Marshal(answer)
}

// redact drops the request URL's query from a transport error; the token
// travels in the body, but a misconfigured endpoint might still carry one.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
