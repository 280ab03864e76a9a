package accesstoken_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

func ExampleNewValidator() {
	as := accesstokentest.NewServer() // stands in for your authorization server
	defer as.Close()

	ctx := context.Background()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	token := as.Token(map[string]any{"sub": "alice", "scope": "orders:read orders:write"})
	claims, err := v.Validate(ctx, token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Subject, claims.Scopes, claims.HasScope("orders:write"))
	// Output: alice [orders:read orders:write] true
}

func ExampleValidator_Validate_errors() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	defer v.Close()

	expired := as.Token(nil, accesstokentest.WithExpiry(-time.Hour))
	_, err := v.Validate(ctx, expired)
	fmt.Println(errors.Is(err, accesstoken.ErrTokenExpired), errors.Is(err, accesstoken.ErrInvalidToken))

	e := accesstoken.AsError(err)
	fmt.Println(e.StatusCode())
	fmt.Println(e.Challenge("orders"))
	// Output:
	// true true
	// 401
	// Bearer realm="orders", error="invalid_token", error_description="The access token expired"
}

func ExampleRequireScopes() {
	claims := &accesstoken.Claims{Scopes: []string{"orders:read"}}
	err := accesstoken.RequireScopes(claims, "orders:read", "orders:write")
	fmt.Println(errors.Is(err, accesstoken.ErrInsufficientScope))
	fmt.Println(accesstoken.AsError(err).Challenge(""))
	// Output:
	// true
	// Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:write"
}

func ExampleClaims_Decode() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	defer v.Close()

	claims, _ := v.Validate(ctx, as.Token(map[string]any{"tenant": "acme", "roles": []string{"admin"}}))
	var custom struct {
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
	}
	if err := claims.Decode(&custom); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(custom.Tenant, custom.Roles)
	// Output: acme [admin]
}

func ExampleNewMultiIssuer() {
	// Two authorization servers: say, the old one and the one being moved to.
	oldAS := accesstokentest.NewServer(accesstokentest.WithAudience("orders"))
	defer oldAS.Close()
	newAS := accesstokentest.NewServer(accesstokentest.WithAudience("orders"))
	defer newAS.Close()

	ctx := context.Background()
	m, err := accesstoken.NewMultiIssuer(ctx, accesstoken.MultiIssuerConfig{
		Issuers: []accesstoken.Config{
			{Issuer: oldAS.Issuer(), Audience: []string{"orders"}},
			{Issuer: newAS.Issuer(), Audience: []string{"orders"}, Algorithms: []string{"ES256"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	for _, token := range []string{
		oldAS.Token(map[string]any{"sub": "alice"}),
		newAS.Token(map[string]any{"sub": "bob"}, accesstokentest.WithAlgorithm("ES256")),
		newAS.Token(map[string]any{"sub": "eve"}), // RS256: not allowed for this issuer
	} {
		claims, err := m.Validate(ctx, token)
		if err != nil {
			fmt.Println("refused:", accesstoken.AsError(err).Description)
			continue
		}
		fmt.Println("accepted:", claims.Subject)
	}
	// Output:
	// accepted: alice
	// accepted: bob
	// refused: The access token is signed with an algorithm that is not accepted
}

func ExampleConfig_keys() {
	// Service-to-service tokens signed with a shared secret, no JWKS.
	secret := []byte("a secret of at least 32 bytes!!!")
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer:     "billing-service",
		Audience:   []string{"orders"},
		Algorithms: []string{"HS256"},
		Keys:       map[string]any{"": secret}, // "" verifies tokens without a kid
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	as := accesstokentest.NewServer() // only to mint the token here
	defer as.Close()
	token := as.Token(map[string]any{"iss": "billing-service", "aud": "orders", "sub": "invoice-job"},
		accesstokentest.WithSigningKey("HS256", secret))
	claims, err := v.Validate(context.Background(), token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Issuer, claims.Subject)

	// A secret shorter than the algorithm needs is refused at construction.
	_, err = accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: "billing-service", Audience: []string{"orders"}, Algorithms: []string{"HS256"},
		Keys: map[string]any{"": []byte("too short")},
	})
	fmt.Println(err)
	// Output:
	// billing-service invoice-job
	// accesstoken: Config.Keys[""]: the HMAC secret has 9 bytes; HS256 needs 32 (RFC 7518 §3.2)
}

func ExampleValidator_ValidateRequest() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
		DPoP:     &accesstoken.DPoPConfig{},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	// The client's key, a token bound to it, and a proof for one request.
	key := accesstokentest.NewDPoPKey("ES256")
	token := as.Token(map[string]any{"sub": "dora"}, accesstokentest.WithDPoPKey(key))
	const url = "https://api.example/orders"
	req := &accesstoken.Request{
		Scheme:    "DPoP",
		Token:     token,
		DPoPProof: key.Proof("GET", url, accesstokentest.WithAccessToken(token)),
		Method:    "GET",
		URL:       url,
	}
	claims, err := v.ValidateRequest(ctx, req)
	fmt.Println(claims.Subject, err)

	_, err = v.ValidateRequest(ctx, req) // the same proof again
	fmt.Println(errors.Is(err, accesstoken.ErrInvalidDPoPProof))

	_, err = v.Validate(ctx, token) // a bound token is no bearer token
	fmt.Println(errors.Is(err, accesstoken.ErrInvalidToken))
	// Output:
	// dora <nil>
	// true
	// true
}

func ExampleRequireAuthentication() {
	now := time.Unix(1_800_000_000, 0)
	claims := &accesstoken.Claims{ACR: "pwd", AuthTime: now.Add(-time.Hour)}
	err := accesstoken.RequireAuthentication(claims, accesstoken.AuthenticationRequirement{
		ACRValues: []string{"mfa"},
		MaxAge:    10 * time.Minute,
		Now:       func() time.Time { return now },
	})
	fmt.Println(errors.Is(err, accesstoken.ErrInsufficientUserAuthentication))
	fmt.Println(accesstoken.AsError(err).Challenge(""))
	// Output:
	// true
	// Bearer error="insufficient_user_authentication", error_description="A stronger or more recent user authentication is required", acr_values="mfa", max_age="600"
}

func ExampleResourceMetadataURL() {
	url, err := accesstoken.ResourceMetadataURL("https://api.example.com/orders")
	fmt.Println(url, err)
	// Output: https://api.example.com/.well-known/oauth-protected-resource/orders <nil>
}

func ExampleProfile() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	denied := map[string]bool{"mallory": true}
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
		Profile: &accesstoken.Profile{
			ClientIDClaims: []string{"/azp"},                     // the client, as OpenID Connect names it
			RequiredClaims: map[string]string{"/tenant": "acme"}, // tokens of one tenant only
			Check: func(ctx context.Context, c *accesstoken.Claims) error { // your own rule, on every token
				if denied[c.Subject] {
					return errors.New("subject is on the deny list")
				}
				return nil
			},
		},
	})
	defer v.Close()

	c, err := v.Validate(ctx, as.Token(map[string]any{"sub": "alice", "azp": "web-app", "tenant": "acme"}))
	fmt.Println(c.Subject, c.ClientID, err)
	for _, claims := range []map[string]any{{"sub": "bob", "tenant": "globex"}, {"sub": "mallory", "tenant": "acme"}} {
		_, err = v.Validate(ctx, as.Token(claims))
		e := accesstoken.AsError(err)
		fmt.Printf("%s: %d %s (log: %v)\n", claims["sub"], e.StatusCode(), e.Description, e.Err)
	}
	// Output:
	// alice web-app <nil>
	// bob: 401 The access token has a claim that is not accepted (log: claim /tenant is "globex"; want "acme")
	// mallory: 401 The access token has a claim that is not accepted (log: subject is on the deny list)
}

func ExampleValidator_Explain() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	v, _ := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{"orders-api"}, StrictStart: true})
	defer v.Close()

	// A Keycloak realm without an audience mapper names only "account".
	x := v.Explain(ctx, as.Token(map[string]any{"aud": "account"}))
	fmt.Println("accepted:", x.Accepted)
	for _, c := range x.Checks {
		if !c.OK {
			fmt.Printf("%s: got %s, want %s\nhint: %s\n", c.Name, c.Got, c.Want, c.Hint)
		}
	}
	// Output:
	// accepted: false
	// aud: got "account", want one of ["orders-api"]
	// hint: Keycloak names only "account" until the realm adds this API's client to the audience: add an audience mapper (Client scopes → dedicated scope → Add mapper → Audience) naming ["orders-api"]
}

func ExampleDecryptionConfig_PublicJWKS() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dec := accesstoken.DecryptionConfig{Keys: map[string]any{"enc-2026": key, "secret": make([]byte, 32)}}
	jwks, _ := dec.PublicJWKS() // serve it, and name its URL in ResourceMetadata.JWKSURI
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(jwks, &set)
	for _, k := range set.Keys {
		fmt.Println(k["kid"], k["kty"], k["crv"], k["use"], k["d"] == nil)
	}
	// Output: enc-2026 EC P-256 enc true
}

// A long-lived stream ends when its token is revoked (or expires): the
// handler watches the guarded context.
func ExampleGuard() {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	revocations := accesstoken.NewRevocations(accesstoken.NewMemoryStore())
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, Revocations: revocations,
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	claims, err := v.Validate(ctx, as.Token(map[string]any{"sub": "ann", "jti": "t-1"}))
	if err != nil {
		panic(err)
	}

	stream := accesstoken.Guard(ctx, v, claims) // the stream's context, in a real handler
	revocations.RevokeToken(ctx, claims.ID, claims.ExpiresAt)
	<-stream.Done() // within about a second
	fmt.Println(context.Cause(stream))
	// Output:
	// accesstoken: invalid token: The access token was revoked: token revoked
}
