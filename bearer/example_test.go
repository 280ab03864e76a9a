package bearer_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/bearer"
)

// Ctx is the request context of a small web framework that this project has
// no adapter for: handlers take a *Ctx and return an error.
type Ctx struct {
	W http.ResponseWriter
	R *http.Request
}

// HandlerFunc is that framework's handler type.
type HandlerFunc func(*Ctx) error

// Auth is the whole adapter for that framework, written on package bearer:
// it accepts and refuses exactly what httpauth.Middleware does (RFC 6750
// token locations, DPoP, certificate-bound tokens, the error table).
func Auth(v accesstoken.TokenValidator, realm string, reader bearer.Reader) func(HandlerFunc) HandlerFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(c *Ctx) error {
			ctx, err := reader.Authenticate(c.R.Context(), c.R, v)
			if err != nil {
				e := accesstoken.AsError(err)
				bearer.SetRefusalHeaders(c.W.Header(), e, realm)
				c.W.WriteHeader(e.StatusCode())
				return nil // the framework's own error format would go here; never e.Err
			}
			if n := bearer.DPoPNonce(v); n != "" {
				c.W.Header().Set("DPoP-Nonce", n)
			}
			c.R = c.R.WithContext(ctx)
			return next(c)
		}
	}
}

// An adapter for another framework: the framework's handler reads the
// claims with accesstoken.FromContext, as with every adapter of this
// project.
func Example_adapter() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	defer v.Close()

	hello := Auth(v, "orders", bearer.Reader{})(func(c *Ctx) error {
		claims, _ := accesstoken.FromContext(c.R.Context())
		_, err := fmt.Fprintf(c.W, "hello %s", claims.Subject)
		return err
	})
	serve := func(authorization string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/orders", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		_ = hello(&Ctx{W: rec, R: r})
		fmt.Printf("%d %q %q\n", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}

	serve("Bearer " + as.Token(map[string]any{"sub": "alice"}))
	serve("")
	serve("Bearer not-a-jwt")
	serve("Bearer a b")
	// Output:
	// 200 "" "hello alice"
	// 401 "Bearer realm=\"orders\"" ""
	// 401 "Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"The access token is not a JWT and cannot be introspected\"" ""
	// 400 "Bearer realm=\"orders\", error=\"invalid_request\", error_description=\"The request is malformed\"" ""
}

// A gateway passing the verified identity to the services behind it.
func ExampleClaimPointer() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	defer v.Close()
	claims, _ := v.Validate(context.Background(), as.Token(map[string]any{
		"sub":          "alice\r\nX-Admin: yes",
		"scope":        "orders:read orders:write",
		"tenant":       "acme",
		"realm_access": map[string]any{"roles": []string{"buyer", "team lead"}},
	}))

	tenant, _ := bearer.ParseClaimPointer("/tenant")
	roles, _ := bearer.ParseClaimPointer("/realm_access/roles")
	payload := bearer.Payload(claims)
	fmt.Printf("%q\n", bearer.IdentityValue(claims.Subject))
	fmt.Printf("%q\n", bearer.IdentityList(claims.Scopes))
	fmt.Printf("%q %q\n", tenant.Value(payload), roles.Value(payload))
	// Output:
	// "aliceX-Admin: yes"
	// "orders:read orders:write"
	// "acme" "buyer team%20lead"
}
