package accesstokentest

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The client the introspection endpoint accepts unless options register
// others.
const (
	IntrospectionClientID     = "resource-server"
	IntrospectionClientSecret = "resource-server-secret"
)

type client struct {
	secret string           // client_secret_basic and client_secret_post
	key    crypto.PublicKey // private_key_jwt
}

// WithIntrospectionClient registers a client that may call the
// introspection endpoint with client_secret_basic or client_secret_post.
// Registering any client replaces the default one.
func WithIntrospectionClient(id, secret string) Option {
	return optionFunc(func(o *serverOptions) { o.clients[id] = client{secret: secret} })
}

// WithIntrospectionClientKey registers a client that authenticates with
// private_key_jwt (RFC 7523), with the public half of its signing key.
func WithIntrospectionClientKey(id string, key crypto.PublicKey) Option {
	return optionFunc(func(o *serverOptions) { o.clients[id] = client{key: key} })
}

// serveIntrospection is an RFC 7662 endpoint: it authenticates the client,
// then answers {"active":true,...claims} for a token this server issued that
// is neither revoked nor expired, and {"active":false} for any other.
func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if !s.authenticate(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	claims, issued := s.tokens[key]
	revoked := s.revoked[key]
	s.mu.Unlock()
	exp, hasExp := unixSeconds(claims["exp"])
	answer := map[string]any{"active": false}
	if issued && !revoked && !(hasExp && time.Now().Unix() >= exp) {
		answer = map[string]any{"active": true, "token_type": "Bearer"}
		for k, v := range claims {
			answer[k] = v
		}
	}
	if strings.Contains(r.Header.Get("Accept"), signedIntrospection) {
		s.writeSigned(w, r, answer)
		return
	}
	writeJSON(w, answer)
}

const signedIntrospection = "application/token-introspection+jwt"

// writeSigned answers as RFC 9701 asks when the client accepts it: a JWT
// signed with the server's RS256 key, typ token-introspection+jwt, iss, aud
// (the introspecting client), iat, and the answer in token_introspection.
func (s *Server) writeSigned(w http.ResponseWriter, r *http.Request, answer map[string]any) {
	clientID, _, ok := r.BasicAuth()
	if !ok {
		clientID = r.PostForm.Get("client_id")
	}
	s.mu.Lock()
	key := s.keys["RS256"]
	s.mu.Unlock()
	header := map[string]any{"alg": key.alg, "kid": key.kid, "typ": "token-introspection+jwt"}
	payload := map[string]any{"iss": s.Issuer(), "aud": clientID, "iat": time.Now().Unix(), "token_introspection": answer}
	input := b64(mustJSON(header)) + "." + b64(mustJSON(payload))
	w.Header().Set("Content-Type", signedIntrospection)
	io.WriteString(w, input+"."+b64(sign(key, []byte(input))))
}

// unixSeconds reads a NumericDate given as any Go number.
func unixSeconds(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case json.Number:
		f, err := n.Float64()
		return int64(f), err == nil
	}
	return 0, false
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(mustJSON(map[string]string{"error": code}))
}

// authenticate checks the client by whichever method the request uses.
func (s *Server) authenticate(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, creds, _ := strings.Cut(h, " ")
		raw, err := base64.StdEncoding.DecodeString(creds)
		if !strings.EqualFold(scheme, "Basic") || err != nil {
			return false
		}
		id, secret, _ := strings.Cut(string(raw), ":")
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		return err1 == nil && err2 == nil && s.secretOK(id, secret)
	}
	id := r.PostForm.Get("client_id")
	if assertion := r.PostForm.Get("client_assertion"); assertion != "" {
		return r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" &&
			s.assertionOK(assertion)
	}
	return s.secretOK(id, r.PostForm.Get("client_secret"))
}

func (s *Server) secretOK(id, secret string) bool {
	c, ok := s.clients[id]
	return ok && c.secret != "" && subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) == 1
}

// assertionOK verifies an RFC 7523 client assertion with golang-jwt.
func (s *Server) assertionOK(assertion string) bool {
	var claims jwt.RegisteredClaims
	t, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		c, ok := s.clients[claims.Subject]
		if !ok || c.key == nil {
			return nil, jwt.ErrTokenUnverifiable
		}
		return c.key, nil
	}, jwt.WithValidMethods([]string{"RS256", "ES256", "ES384", "ES512", "EdDSA"}), jwt.WithExpirationRequired())
	if err != nil || !t.Valid || claims.Issuer != claims.Subject {
		return false
	}
	return slices.Contains(claims.Audience, s.Issuer()) || slices.Contains(claims.Audience, s.IntrospectionEndpoint())
}
