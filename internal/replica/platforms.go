package replica

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A document served at a path, with the Cache-Control the platform sends.
type doc struct {
	body         func() any
	cacheControl string
}

// site is one host's fixed paths; every other path is 404, as the
// platforms answer paths they do not serve.
type site map[string]doc

func (s site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := s[r.URL.Path]
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if d.cacheControl != "" {
		w.Header().Set("Cache-Control", d.cacheControl)
	}
	json.NewEncoder(w).Encode(d.body())
}

// now is the token times' base: whole seconds, as every platform writes.
func now() int64 { return time.Now().Unix() }

func keySet(keys ...map[string]any) map[string]any { return map[string]any{"keys": keys} }

// ---- Microsoft Entra ID ----------------------------------------------------
//
// Sources: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
// (claims of v1.0 and v2.0 access tokens, header "x5t" in v1.0 only),
// https://learn.microsoft.com/entra/identity-platform/access-tokens (Graph
// tokens' header "nonce"; keys at /discovery/keys and /discovery/v2.0/keys;
// v1.0 issuer https://sts.windows.net/{tid}/), and the v2.0 and v1.0
// discovery documents as https://login.microsoftonline.com/{tid}/v2.0/.well-known/openid-configuration
// and https://login.microsoftonline.com/{tid}/.well-known/openid-configuration
// serve them. Keys have no "alg"; their "kid" is the certificate's "x5t";
// the v2.0 set names each key's "issuer".

// Entra replicates login.microsoftonline.com for a set of tenants.
type Entra struct {
	Key *Key
}

// NewEntra serves tenants' metadata and keys on n.
func NewEntra(n *Net, tenants ...string) *Entra {
	e := &Entra{Key: NewKey(0, "")}
	s := site{}
	for _, tid := range tenants {
		login := "https://login.microsoftonline.com/" + tid
		v2 := login + "/v2.0"
		s["/"+tid+"/v2.0/.well-known/openid-configuration"] = doc{body: func() any {
			return map[string]any{
				"token_endpoint":                        login + "/oauth2/v2.0/token",
				"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
				"jwks_uri":                              login + "/discovery/v2.0/keys",
				"response_modes_supported":              []string{"query", "fragment", "form_post"},
				"subject_types_supported":               []string{"pairwise"},
				"id_token_signing_alg_values_supported": []string{"RS256"},
				"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
				"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
				"issuer":                                v2,
				"request_uri_parameter_supported":       false,
				"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
				"authorization_endpoint":                login + "/oauth2/v2.0/authorize",
				"device_authorization_endpoint":         login + "/oauth2/v2.0/devicecode",
				"http_logout_supported":                 true,
				"frontchannel_logout_supported":         true,
				"end_session_endpoint":                  login + "/oauth2/v2.0/logout",
				"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
				"kerberos_endpoint":                     login + "/kerberos",
				"tenant_region_scope":                   "EU",
				"cloud_instance_name":                   "microsoftonline.com",
				"cloud_graph_host_name":                 "graph.windows.net",
				"msgraph_host":                          "graph.microsoft.com",
				"rbac_url":                              "https://pas.windows.net",
			}
		}, cacheControl: "max-age=86400, private"}
		s["/"+tid+"/.well-known/openid-configuration"] = doc{body: func() any {
			return map[string]any{
				"token_endpoint":                        login + "/oauth2/token",
				"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
				"jwks_uri":                              login + "/discovery/keys",
				"response_modes_supported":              []string{"query", "fragment", "form_post"},
				"subject_types_supported":               []string{"pairwise"},
				"id_token_signing_alg_values_supported": []string{"RS256"},
				"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
				"scopes_supported":                      []string{"openid"},
				"issuer":                                "https://sts.windows.net/" + tid + "/",
				"microsoft_multi_refresh_token":         true,
				"authorization_endpoint":                login + "/oauth2/authorize",
				"device_authorization_endpoint":         login + "/oauth2/devicecode",
				"http_logout_supported":                 true,
				"frontchannel_logout_supported":         true,
				"end_session_endpoint":                  login + "/oauth2/logout",
				"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"},
				"check_session_iframe":                  login + "/oauth2/checksession",
				"userinfo_endpoint":                     login + "/openid/userinfo",
				"kerberos_endpoint":                     login + "/kerberos",
				"tenant_region_scope":                   "EU",
				"cloud_instance_name":                   "microsoftonline.com",
				"cloud_graph_host_name":                 "graph.windows.net",
				"msgraph_host":                          "graph.microsoft.com",
				"rbac_url":                              "https://pas.windows.net",
			}
		}, cacheControl: "max-age=86400, private"}
		s["/"+tid+"/discovery/v2.0/keys"] = doc{body: func() any {
			return keySet(map[string]any{"kty": "RSA", "use": "sig", "kid": e.Key.ID, "x5t": e.Key.X5T(), "n": e.Key.N(), "e": e.Key.E(),
				"x5c": e.Key.X5C(), "cloud_instance_name": "microsoftonline.com", "issuer": v2})
		}, cacheControl: "max-age=86400, private"}
		s["/"+tid+"/discovery/keys"] = doc{body: func() any {
			return keySet(map[string]any{"kty": "RSA", "use": "sig", "kid": e.Key.ID, "x5t": e.Key.X5T(), "n": e.Key.N(), "e": e.Key.E(),
				"x5c": e.Key.X5C(), "cloud_instance_name": "microsoftonline.com"})
		}, cacheControl: "max-age=86400, private"}
	}
	n.Handle("login.microsoftonline.com", s)
	n.Handle("sts.windows.net", site{}) // the v1.0 issuer's host serves no metadata of its own
	return e
}

// AccessToken mints an access token of tenant tid: v2.0 when v2 is set,
// else v1.0, with the claims and header Entra writes, then over applied to
// the claims (a nil value removes one). aud is the API's client ID (v2.0)
// or App ID URI (v1.0) unless over says otherwise.
func (e *Entra) AccessToken(tid string, v2 bool, over map[string]any) string {
	return e.AccessTokenWithHeader(tid, v2, over, nil)
}

// AccessTokenWithHeader is AccessToken with header members applied too
// ("nonce" makes a token for Microsoft Graph).
func (e *Entra) AccessTokenWithHeader(tid string, v2 bool, over, header map[string]any) string {
	t := now()
	var claims, h map[string]any
	if v2 {
		h = map[string]any{"typ": "JWT", "alg": "RS256", "kid": e.Key.ID}
		claims = map[string]any{
			"aud": EntraAPIClientID, "iss": "https://login.microsoftonline.com/" + tid + "/v2.0",
			"iat": t - 60, "nbf": t - 60, "exp": t + 3600,
			"aio": "AWQAm/8TAAAAC0kGj5IF2Y4zAw2D2ek2i2Jxo==", "azp": EntraClientID, "azpacr": "0",
			"name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "preferred_username": "abeli@microsoft.com",
			"rh": "I", "scp": "access_as_user orders.read", "roles": []string{"Orders.Admin"},
			"sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ", "tid": tid, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
		}
	} else {
		h = map[string]any{"typ": "JWT", "alg": "RS256", "x5t": e.Key.X5T(), "kid": e.Key.ID}
		claims = map[string]any{
			"aud": EntraAPIAppIDURI, "iss": "https://sts.windows.net/" + tid + "/",
			"iat": t - 60, "nbf": t - 60, "exp": t + 3600,
			"acr": "1", "aio": "E2ZgYJj0/zPNy9p+Vvs0Mp3N7Q0A", "amr": []string{"pwd"}, "appid": EntraClientID, "appidacr": "0",
			"family_name": "Lincoln", "given_name": "Abe", "ipaddr": "203.0.113.7", "name": "Abe Lincoln",
			"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "rh": "I", "scp": "user_impersonation",
			"sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", "tid": tid, "unique_name": "abeli@contoso.com",
			"upn": "abeli@contoso.com", "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0",
		}
	}
	return e.Key.Sign(Merge(h, header), Merge(claims, over))
}

// GraphToken mints what Entra issues for Microsoft Graph: "aud" Graph, and
// a header "nonce" whose SHA-256 (not the nonce as written) the signature
// covers, so that no one but Graph can verify it.
func (e *Entra) GraphToken(tid string) string {
	const nonce = "AQABAAAAAABeAFzDwllzTYGDLh_qYbH8hgtbYgXLwPQ"
	sum := sha256.Sum256([]byte(nonce))
	signed := e.AccessTokenWithHeader(tid, false, map[string]any{"aud": EntraGraphAud, "scp": "User.Read"},
		map[string]any{"nonce": hex.EncodeToString(sum[:])})
	h, rest, _ := strings.Cut(signed, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(h)
	var header map[string]any
	json.Unmarshal(raw, &header)
	header["nonce"] = nonce
	raw, _ = json.Marshal(header)
	return b64(raw) + "." + rest
}

// The API and client of the Entra replica's tokens.
const (
	EntraAPIClientID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	EntraAPIAppIDURI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
	EntraClientID    = "b0d3f2a1-5e6c-4f7a-8b9c-0d1e2f3a4b5c"
	EntraGraphAud    = "00000003-0000-0000-c000-000000000000"
)

// ---- Amazon Cognito ----------------------------------------------------------
//
// Sources: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
// and ...-using-the-id-token.html (claims, header without "typ"),
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
// (keys at https://cognito-idp.{region}.amazonaws.com/{userPoolId}/.well-known/jwks.json,
// with "alg" and "use"; an ID-token key and an access-token key), and the
// user pool's /.well-known/openid-configuration. Cognito serves no RFC 8414
// document.

// Cognito replicates one user pool.
type Cognito struct {
	Issuer           string
	AccessKey, IDKey *Key
}

// NewCognito serves the pool's metadata and keys on n.
func NewCognito(n *Net, region, pool string) *Cognito {
	host := "cognito-idp." + region + ".amazonaws.com"
	c := &Cognito{Issuer: "https://" + host + "/" + pool,
		AccessKey: NewKey(1, "uGXC0bNEJnoLgF3ysgiVOhkO0JBS3MBnSk8B9VGkv7E="),
		IDKey:     NewKey(2, "Z2NSdWxRbn0Rte8K3NEbPoR8wDsl0iFiELvmX9NtCNo=")}
	domain := "https://example-pool.auth." + region + ".amazoncognito.com"
	n.Handle(host, site{
		"/" + pool + "/.well-known/openid-configuration": {body: func() any {
			return map[string]any{
				"authorization_endpoint":                domain + "/oauth2/authorize",
				"end_session_endpoint":                  domain + "/logout",
				"id_token_signing_alg_values_supported": []string{"RS256"},
				"issuer":                                c.Issuer,
				"jwks_uri":                              c.Issuer + "/.well-known/jwks.json",
				"response_types_supported":              []string{"code", "token"},
				"revocation_endpoint":                   domain + "/oauth2/revoke",
				"scopes_supported":                      []string{"openid", "email", "phone", "profile"},
				"subject_types_supported":               []string{"public"},
				"token_endpoint":                        domain + "/oauth2/token",
				"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
				"userinfo_endpoint":                     domain + "/oauth2/userInfo",
			}
		}},
		"/" + pool + "/.well-known/jwks.json": {body: func() any {
			k := func(key *Key) map[string]any {
				return map[string]any{"alg": "RS256", "e": key.E(), "kid": key.ID, "kty": "RSA", "n": key.N(), "use": "sig"}
			}
			return keySet(k(c.IDKey), k(c.AccessKey))
		}},
	})
	return c
}

// CognitoClientID is the app client of the Cognito replica's tokens.
const CognitoClientID = "57cbishk4j24pabc1234567890"

// AccessToken mints an access token with the claims Cognito writes.
func (c *Cognito) AccessToken(over map[string]any) string {
	t := now()
	return c.AccessKey.Sign(map[string]any{"kid": c.AccessKey.ID, "alg": "RS256"}, Merge(map[string]any{
		"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "device_key": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"cognito:groups": []string{"admin"}, "token_use": "access", "scope": "aws.cognito.signin.user.admin orders/read",
		"auth_time": t - 60, "iss": c.Issuer, "exp": t + 3600, "iat": t - 60,
		"origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "client_id": CognitoClientID, "username": "janedoe@example.com",
		"version": 2,
	}, over))
}

// IDToken mints an ID token with the claims Cognito writes.
func (c *Cognito) IDToken(over map[string]any) string {
	t := now()
	return c.IDKey.Sign(map[string]any{"kid": c.IDKey.ID, "alg": "RS256"}, Merge(map[string]any{
		"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "cognito:groups": []string{"admin"}, "email_verified": true,
		"iss": c.Issuer, "cognito:username": "janedoe", "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"aud": CognitoClientID, "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "token_use": "id",
		"auth_time": t - 60, "exp": t + 3600, "iat": t - 60, "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"email": "janedoe@example.com",
	}, over))
}

// ---- Google -------------------------------------------------------------------
//
// Sources: https://developers.google.com/identity/openid-connect/openid-connect
// (the discovery document at https://accounts.google.com/.well-known/openid-configuration,
// keys at https://www.googleapis.com/oauth2/v3/certs, ID token claims, "iss"
// written as https://accounts.google.com or accounts.google.com),
// https://cloud.google.com/run/docs/authenticating/service-to-service
// (ID tokens for a service URL), and
// https://developers.google.com/identity/protocols/oauth2/javascript-implicit-flow#tokeninfo-validation
// (tokeninfo: "exp" and "expires_in" as strings; 400 for a bad token).

// Google replicates accounts.google.com, www.googleapis.com's keys and
// oauth2.googleapis.com's tokeninfo.
type Google struct {
	Key *Key

	mu     sync.Mutex
	tokens map[string]map[string]any // access token -> tokeninfo answer
	status int                       // when not 0, tokeninfo answers only this status
}

// FailTokenInfo makes tokeninfo answer every request with status (0 heals
// it), as an outage would.
func (g *Google) FailTokenInfo(status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status = status
}

// NewGoogle serves Google's metadata, keys and tokeninfo on n.
func NewGoogle(n *Net) *Google {
	g := &Google{Key: NewKey(3, "b2620d5e7f132b52afe8875cdf3776c064249d04"), tokens: map[string]map[string]any{}}
	n.Handle("accounts.google.com", site{"/.well-known/openid-configuration": {body: func() any {
		return map[string]any{
			"issuer":                                "https://accounts.google.com",
			"authorization_endpoint":                "https://accounts.google.com/o/oauth2/v2/auth",
			"device_authorization_endpoint":         "https://oauth2.googleapis.com/device/code",
			"token_endpoint":                        "https://oauth2.googleapis.com/token",
			"userinfo_endpoint":                     "https://openidconnect.googleapis.com/v1/userinfo",
			"revocation_endpoint":                   "https://oauth2.googleapis.com/revoke",
			"jwks_uri":                              "https://www.googleapis.com/oauth2/v3/certs",
			"response_types_supported":              []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "email", "profile"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
			"claims_supported":                      []string{"aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"},
			"code_challenge_methods_supported":      []string{"plain", "S256"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		}
	}, cacheControl: "public, max-age=3600"}})
	n.Handle("www.googleapis.com", site{"/oauth2/v3/certs": {body: func() any {
		return keySet(map[string]any{"e": g.Key.E(), "kty": "RSA", "use": "sig", "alg": "RS256", "n": g.Key.N(), "kid": g.Key.ID})
	}, cacheControl: "public, max-age=19204, must-revalidate, no-transform"}})
	n.Handle("oauth2.googleapis.com", http.HandlerFunc(g.tokenInfo))
	return g
}

// GoogleClientID is the OAuth client of the Google replica's tokens.
const GoogleClientID = "1234987819200-abcdefgh.apps.googleusercontent.com"

// IDToken mints an ID token with the claims Google writes for Sign in with
// Google; iss may be over'ridden to the bare "accounts.google.com".
func (g *Google) IDToken(over map[string]any) string {
	t := now()
	return g.Key.Sign(map[string]any{"alg": "RS256", "kid": g.Key.ID, "typ": "JWT"}, Merge(map[string]any{
		"iss": "https://accounts.google.com", "azp": GoogleClientID, "aud": GoogleClientID,
		"sub": "10769150350006150715113082367", "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "hd": "example.com",
		"email": "jsmith@example.com", "email_verified": true, "iat": t - 60, "exp": t + 3600,
	}, over))
}

// AccessToken registers an opaque access token whose tokeninfo answer is
// Google's, with over applied, and returns it.
func (g *Google) AccessToken(token string, over map[string]any) string {
	exp := now() + 3599
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[token] = Merge(map[string]any{
		"azp": GoogleClientID, "aud": GoogleClientID, "sub": "10769150350006150715113082367",
		"scope": "https://www.googleapis.com/auth/userinfo.email openid", "exp": itoa(exp), "expires_in": "3599",
		"email": "jsmith@example.com", "email_verified": "true", "access_type": "online",
	}, over)
	return token
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// tokenInfo answers as https://oauth2.googleapis.com/tokeninfo does, the
// token in the query or in a POST form.
func (g *Google) tokenInfo(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/tokeninfo" {
		http.NotFound(w, r)
		return
	}
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	g.mu.Lock()
	answer, ok := g.tokens[r.Form.Get("access_token")]
	status := g.status
	g.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if ok {
		if exp, err := parseInt(answer["exp"]); err == nil && exp <= now() {
			ok = false
		}
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": "invalid_token", "error_description": "Invalid Value"})
		return
	}
	json.NewEncoder(w).Encode(answer)
}

func parseInt(v any) (int64, error) {
	var n int64
	s, _ := v.(string)
	err := json.Unmarshal([]byte(s), &n)
	return n, err
}

// ---- Auth0 --------------------------------------------------------------------
//
// Sources: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
// (the Auth0 profile: "azp", "typ" JWT; the RFC 9068 profile: "client_id",
// "typ" at+jwt), https://auth0.com/docs/secure/tokens/access-tokens/get-access-tokens
// ("aud" with the /userinfo audience beside the API's),
// https://auth0.com/docs/secure/tokens/json-web-tokens/json-web-key-sets
// (keys at https://{domain}/.well-known/jwks.json with "x5c", "x5t", "alg"),
// and https://{domain}/.well-known/openid-configuration. We could not confirm
// an RFC 8414 document; its path answers 404 here.

// Auth0 replicates one tenant domain.
type Auth0 struct {
	Domain string
	Key    *Key
}

// NewAuth0 serves the tenant's metadata and keys on n.
func NewAuth0(n *Net, domain string) *Auth0 {
	a := &Auth0{Domain: domain, Key: NewKey(4, "QzE0NjlBNUNFRkE3RjI0Q0YxQkJDRDEwMjM4NDBBMDk1MjRCNjMzMw")}
	next := NewKey(5, "x3w_jxzQ0nKNHcVIsKy5OKtQLaA4n6H0Pz0ds3CSfNU")
	base := "https://" + domain + "/"
	n.Handle(domain, site{
		"/.well-known/openid-configuration": {body: func() any {
			return map[string]any{
				"issuer": base, "authorization_endpoint": base + "authorize", "token_endpoint": base + "oauth/token",
				"device_authorization_endpoint": base + "oauth/device/code", "userinfo_endpoint": base + "userinfo",
				"mfa_challenge_endpoint": base + "mfa/challenge", "jwks_uri": base + ".well-known/jwks.json",
				"registration_endpoint": base + "oidc/register", "revocation_endpoint": base + "oauth/revoke",
				"scopes_supported":                                 []string{"openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"},
				"response_types_supported":                         []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"},
				"code_challenge_methods_supported":                 []string{"S256", "plain"},
				"response_modes_supported":                         []string{"query", "fragment", "form_post"},
				"subject_types_supported":                          []string{"public"},
				"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
				"claims_supported":                                 []string{"aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"},
				"request_uri_parameter_supported":                  false,
				"request_parameter_supported":                      false,
				"id_token_signing_alg_values_supported":            []string{"HS256", "RS256", "PS256"},
				"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "RS384", "PS256"},
				"end_session_endpoint":                             base + "oidc/logout",
			}
		}},
		"/.well-known/jwks.json": {body: func() any {
			k := func(key *Key) map[string]any {
				return map[string]any{"kty": "RSA", "use": "sig", "n": key.N(), "e": key.E(), "kid": key.ID,
					"x5t": key.X5T(), "x5c": key.X5C(), "alg": "RS256"}
			}
			return keySet(k(a.Key), k(next))
		}, cacheControl: "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"},
	})
	return a
}

// Auth0API and Auth0ClientID are the API and client of the Auth0 replica's tokens.
const (
	Auth0API      = "https://api.example.com"
	Auth0ClientID = "tCBMiUYI5xsBXPLHAbMtnoAnHJrF3Qmf"
)

// AccessToken mints an access token of the Auth0 token profile for a user
// who also asked for openid (so "aud" has the /userinfo audience too).
func (a *Auth0) AccessToken(over map[string]any) string {
	t := now()
	return a.Key.Sign(map[string]any{"alg": "RS256", "typ": "JWT", "kid": a.Key.ID}, Merge(map[string]any{
		"iss": "https://" + a.Domain + "/", "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
		"aud": []string{Auth0API, "https://" + a.Domain + "/userinfo"}, "iat": t - 60, "exp": t + 86400,
		"scope": "openid profile read:orders", "azp": Auth0ClientID, "permissions": []string{"read:orders"},
	}, over))
}

// RFC9068Token mints an access token of Auth0's RFC 9068 profile, as a
// machine-to-machine (client credentials) grant gets it.
func (a *Auth0) RFC9068Token(over map[string]any) string {
	t := now()
	return a.Key.Sign(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": a.Key.ID}, Merge(map[string]any{
		"iss": "https://" + a.Domain + "/", "sub": Auth0ClientID + "@clients", "aud": Auth0API,
		"client_id": Auth0ClientID, "iat": t - 60, "exp": t + 86400, "jti": "2cf9e2b0-0b5d-4b1e-8d0e-1c5c3f7f9a10",
		"scope": "read:orders", "permissions": []string{"read:orders"},
	}, over))
}

// ---- Okta ---------------------------------------------------------------------
//
// Sources: https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/customas
// (metadata of a custom authorization server at
// /.well-known/oauth-authorization-server/oauth2/{id} and, the legacy form,
// /oauth2/{id}/.well-known/oauth-authorization-server; OpenID metadata at
// /oauth2/{id}/.well-known/openid-configuration; keys at /oauth2/{id}/v1/keys),
// https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/orgas (the
// org authorization server, issuer https://{yourOktaDomain}, whose access
// tokens only Okta can validate), and
// https://developer.okta.com/docs/guides/validate-access-tokens/ (claims
// "ver", "cid", "uid", "scp" as an array; header without "typ").

// Okta replicates one Okta org with a custom authorization server.
type Okta struct {
	Domain, ServerID string
	Key, OrgKey      *Key
}

// NewOkta serves the org's and the custom server's metadata and keys on n.
func NewOkta(n *Net, domain, serverID string) *Okta {
	o := &Okta{Domain: domain, ServerID: serverID, Key: NewKey(6, "9WNx0MhWY1iLR2WDkCAzhrm_hqa_1Ng1JJOxnKVB8jo"),
		OrgKey: NewKey(7, "yqU0-2F1sDLkvt7T3BHp8i2C4lOqUpdM6Kp5IRO4tZE")}
	org := "https://" + domain
	as := org + "/oauth2/" + serverID
	meta := func(issuer, prefix string, oidc bool) func() any {
		return func() any {
			m := map[string]any{
				"issuer": issuer, "authorization_endpoint": prefix + "/v1/authorize", "token_endpoint": prefix + "/v1/token",
				"registration_endpoint": org + "/oauth2/v1/clients", "jwks_uri": prefix + "/v1/keys",
				"response_types_supported":                      []string{"code", "token", "id_token", "code id_token", "code token", "id_token token", "code id_token token"},
				"response_modes_supported":                      []string{"query", "fragment", "form_post", "okta_post_message"},
				"grant_types_supported":                         []string{"authorization_code", "implicit", "refresh_token", "password", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"},
				"subject_types_supported":                       []string{"public"},
				"scopes_supported":                              []string{"openid", "profile", "email", "address", "phone", "offline_access", "device_sso"},
				"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
				"claims_supported":                              []string{"ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"},
				"code_challenge_methods_supported":              []string{"S256"},
				"introspection_endpoint":                        prefix + "/v1/introspect",
				"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
				"revocation_endpoint":                           prefix + "/v1/revoke",
				"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
				"end_session_endpoint":                          prefix + "/v1/logout",
				"request_parameter_supported":                   true,
				"request_object_signing_alg_values_supported":   []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"},
				"device_authorization_endpoint":                 prefix + "/v1/device/authorize",
				"dpop_signing_alg_values_supported":             []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"},
			}
			if oidc {
				m["userinfo_endpoint"] = prefix + "/v1/userinfo"
				m["id_token_signing_alg_values_supported"] = []string{"RS256"}
			}
			return m
		}
	}
	keys := func(k *Key) func() any {
		return func() any {
			return keySet(map[string]any{"kty": "RSA", "alg": "RS256", "kid": k.ID, "use": "sig", "e": k.E(), "n": k.N()})
		}
	}
	const cc = "max-age=5276658, must-revalidate"
	n.Handle(domain, site{
		"/.well-known/oauth-authorization-server/oauth2/" + serverID:      {body: meta(as, as, false)},
		"/oauth2/" + serverID + "/.well-known/oauth-authorization-server": {body: meta(as, as, false)},
		"/oauth2/" + serverID + "/.well-known/openid-configuration":       {body: meta(as, as, true)},
		"/oauth2/" + serverID + "/v1/keys":                                {body: keys(o.Key), cacheControl: cc},
		"/.well-known/openid-configuration":                               {body: meta(org, org+"/oauth2", true)},
		"/.well-known/oauth-authorization-server":                         {body: meta(org, org+"/oauth2", false)},
		"/oauth2/v1/keys": {body: keys(o.OrgKey), cacheControl: cc},
	})
	return o
}

// OktaClientID is the client of the Okta replica's tokens.
const OktaClientID = "0oa1pcgmkfQ4fMy8i0h8"

// AccessToken mints an access token of the custom authorization server.
func (o *Okta) AccessToken(over map[string]any) string {
	t := now()
	return o.Key.Sign(map[string]any{"kid": o.Key.ID, "alg": "RS256"}, Merge(map[string]any{
		"ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
		"iss": "https://" + o.Domain + "/oauth2/" + o.ServerID, "aud": "api://default", "iat": t - 60, "exp": t + 3600,
		"cid": OktaClientID, "uid": "00uid4BxXw6I6TV4m0g3", "scp": []string{"openid", "email", "orders.read"},
		"auth_time": t - 120, "sub": "john.doe@example.com", "groups": []string{"Everyone", "Order Admins"},
	}, over))
}

// OrgToken mints an access token of the org authorization server (for
// Okta's own APIs).
func (o *Okta) OrgToken(over map[string]any) string {
	t := now()
	return o.OrgKey.Sign(map[string]any{"kid": o.OrgKey.ID, "alg": "RS256"}, Merge(map[string]any{
		"ver": 1, "jti": "AT.lIBmTb6nz1HmqwKmHDqHzsUqbzv1SO8y8B9e3e0xQ6M", "iss": "https://" + o.Domain,
		"aud": "https://" + o.Domain, "iat": t - 60, "exp": t + 3600, "cid": OktaClientID, "uid": "00uid4BxXw6I6TV4m0g3",
		"scp": []string{"okta.users.read"}, "sub": "john.doe@example.com",
	}, over))
}

// ---- Keycloak -----------------------------------------------------------------
//
// Sources: https://www.keycloak.org/securing-apps/oidc-layers (endpoints
// under /realms/{realm}: .well-known/openid-configuration,
// protocol/openid-connect/certs), https://www.keycloak.org/docs/latest/server_admin/#_audience
// ("aud" "account" until an audience mapper adds the API's client),
// Keycloak's OAuth2WellKnownProviderFactory (keycloak/keycloak#29627: the
// RFC 8414 document at /realms/{realm}/.well-known/oauth-authorization-server,
// not at the root), and certs as a realm serves them: an RS256 signing key
// and an RSA-OAEP encryption key, each with "x5c", "x5t" and "x5t#S256".

// Keycloak replicates one realm.
type Keycloak struct {
	Issuer string
	Key    *Key
}

// NewKeycloak serves realm's metadata and keys on host, which may carry a
// path prefix ("old.example.com/auth", as Keycloak 16 and older have it).
func NewKeycloak(n *Net, host, realm string) *Keycloak {
	issuer := "https://" + host + "/realms/" + realm
	host, prefix, _ := strings.Cut(host, "/")
	if prefix != "" {
		prefix = "/" + prefix
	}
	k := &Keycloak{Issuer: issuer, Key: NewKey(8, "fpNT4Z3XTNNsqr-s3wyBFDhsySj4TIXkgKcDHvPm0CA")}
	enc := NewKey(9, "lmvBHdkmA5zj0fS9oH5EU0xN9_bVD0JyC3K7WE2oE4w")
	oidc := "/protocol/openid-connect"
	meta := func() any {
		return map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + oidc + "/auth", "token_endpoint": issuer + oidc + "/token",
			"introspection_endpoint": issuer + oidc + "/token/introspect", "userinfo_endpoint": issuer + oidc + "/userinfo",
			"end_session_endpoint": issuer + oidc + "/logout", "frontchannel_logout_session_supported": true,
			"frontchannel_logout_supported": true, "jwks_uri": issuer + oidc + "/certs",
			"check_session_iframe":                       issuer + oidc + "/login-status-iframe.html",
			"grant_types_supported":                      []string{"authorization_code", "implicit", "refresh_token", "password", "client_credentials", "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:device_code"},
			"acr_values_supported":                       []string{"0", "1"},
			"response_types_supported":                   []string{"code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"},
			"subject_types_supported":                    []string{"public", "pairwise"},
			"id_token_signing_alg_values_supported":      []string{"PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512", "PS256", "PS512", "RS512"},
			"code_challenge_methods_supported":           []string{"plain", "S256"},
			"tls_client_certificate_bound_access_tokens": true,
			"dpop_signing_alg_values_supported":          []string{"PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256", "PS512", "RS512"},
			"revocation_endpoint":                        issuer + oidc + "/revoke",
			"device_authorization_endpoint":              issuer + oidc + "/auth/device",
			"pushed_authorization_request_endpoint":      issuer + oidc + "/ext/par/request",
		}
	}
	jwk := func(key *Key, alg, use string) map[string]any {
		return map[string]any{"kid": key.ID, "kty": "RSA", "alg": alg, "use": use, "n": key.N(), "e": key.E(),
			"x5c": key.X5C(), "x5t": key.X5T(), "x5t#S256": key.X5TS256()}
	}
	n.Handle(host, site{
		prefix + "/realms/" + realm + "/.well-known/openid-configuration":       {body: meta, cacheControl: "no-cache, must-revalidate, no-transform, no-store"},
		prefix + "/realms/" + realm + "/.well-known/oauth-authorization-server": {body: meta, cacheControl: "no-cache, must-revalidate, no-transform, no-store"},
		prefix + "/realms/" + realm + "/.well-known/uma2-configuration":         {body: func() any { return map[string]any{"issuer": issuer} }},
		prefix + "/realms/" + realm + oidc + "/certs": {body: func() any {
			return keySet(jwk(enc, "RSA-OAEP", "enc"), jwk(k.Key, "RS256", "sig"))
		}, cacheControl: "no-cache"},
	})
	return k
}

// KeycloakAPI and KeycloakClientID are the API client (the audience an
// audience mapper adds) and the front-end client of the Keycloak replica's
// tokens.
const (
	KeycloakAPI      = "orders-api"
	KeycloakClientID = "orders-frontend"
)

// AccessToken mints an access token as Keycloak writes it after an audience
// mapper added KeycloakAPI (over "aud": "account" makes the token of a realm
// without one).
func (k *Keycloak) AccessToken(over map[string]any) string {
	t := now()
	return k.Key.Sign(map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.Key.ID}, Merge(map[string]any{
		"exp": t + 300, "iat": t - 10, "auth_time": t - 30, "jti": "onrtac:5b3f1c1e-6f0a-4a59-9a7e-3d1f4a9b2c7d",
		"iss": k.Issuer, "aud": []string{KeycloakAPI, "account"}, "sub": "f2c5e7a4-3b1d-4c8e-9a6f-2d7b1e0c4a58",
		"typ": "Bearer", "azp": KeycloakClientID, "sid": "0a8d7c2e-5f4b-4e3a-8c1d-9b6e2f7a3c10", "acr": "1",
		"allowed-origins":    []string{"https://app.example.com"},
		"realm_access":       map[string]any{"roles": []string{"default-roles-demo", "offline_access", "uma_authorization"}},
		"resource_access":    map[string]any{KeycloakAPI: map[string]any{"roles": []string{"orders-admin"}}, "account": map[string]any{"roles": []string{"manage-account", "view-profile"}}},
		"scope":              "openid email profile",
		"email_verified":     true,
		"name":               "Alice Liddell",
		"preferred_username": "alice",
		"given_name":         "Alice",
		"family_name":        "Liddell",
		"email":              "alice@example.com",
	}, over))
}

// IDToken mints an ID token of the realm (payload "typ" "ID", "aud" the
// client).
func (k *Keycloak) IDToken(over map[string]any) string {
	t := now()
	return k.Key.Sign(map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.Key.ID}, Merge(map[string]any{
		"exp": t + 300, "iat": t - 10, "auth_time": t - 30, "jti": "ntrtac:1d2c3b4a", "iss": k.Issuer,
		"aud": KeycloakClientID, "sub": "f2c5e7a4-3b1d-4c8e-9a6f-2d7b1e0c4a58", "typ": "ID", "azp": KeycloakClientID,
		"at_hash": "8xM1wQxL3hR0l9sZcNq0Xg", "acr": "1", "email_verified": true, "preferred_username": "alice",
	}, over))
}
