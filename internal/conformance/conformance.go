// Package conformance is the one table of requests and expected outcomes
// that every adapter's tests run (httpauth, grpcauth, echoauth, echo5auth),
// so that the transports cannot drift apart. It starts a real authorization
// server from the test kit and real validators; each adapter only sends the
// case's token its own way and compares what comes back.
package conformance

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// Realm is the realm every adapter under test is configured with.
const Realm = "conformance"

// Scope is the scope the protected resource of every case requires.
const Scope = "orders:read"

// Case is one request and what every transport must answer.
type Case struct {
	Name      string
	Validator accesstoken.TokenValidator
	Token     string // "" sends no token at all
	// Twice sends the Authorization header (or metadata) twice.
	Twice bool

	// Sentinel is the error the rejection matches; nil for acceptance.
	Sentinel error
	// Status is the HTTP status; Challenge the exact WWW-Authenticate value
	// ("" for none).
	Status    int
	Challenge string
	// GRPCCode is the name of the gRPC status code ("OK" for acceptance).
	GRPCCode string
	// Subject is the "sub" a handler must see in the claims when accepted.
	Subject string
}

// Cases starts an authorization server and two validators (one for a
// reachable issuer, one for an issuer that is down) and returns the table.
// Everything is stopped by t.Cleanup.
func Cases(t testing.TB) []Case {
	t.Helper()
	as := accesstokentest.NewServer()
	t.Cleanup(as.Close)
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })

	down := accesstokentest.NewServer(accesstokentest.WithHandler(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		})
	}))
	t.Cleanup(down.Close)
	unavailable, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: down.Issuer(), Audience: []string{down.Audience()}, FetchTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unavailable.Close() })

	invalid := func(desc string) string {
		return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + desc + `"`
	}
	return []Case{
		{Name: "valid", Validator: v, Token: as.Token(map[string]any{"sub": "alice", "scope": Scope}),
			Status: http.StatusOK, GRPCCode: "OK", Subject: "alice"},
		{Name: "missing token", Validator: v,
			Sentinel: accesstoken.ErrNoToken, Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, GRPCCode: "Unauthenticated"},
		{Name: "garbage", Validator: v, Token: "garbage",
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, Challenge: invalid("The access token is not a JWT and cannot be introspected"), GRPCCode: "Unauthenticated"},
		{Name: "expired", Validator: v, Token: as.Token(map[string]any{"scope": Scope}, accesstokentest.WithExpiry(-time.Minute)),
			Sentinel: accesstoken.ErrTokenExpired, Status: http.StatusUnauthorized, Challenge: invalid("The access token expired"), GRPCCode: "Unauthenticated"},
		{Name: "wrong audience", Validator: v, Token: as.Token(map[string]any{"aud": "https://other.example", "scope": Scope}),
			Sentinel: accesstoken.ErrInvalidToken, Status: http.StatusUnauthorized, Challenge: invalid("The access token is meant for another audience"), GRPCCode: "Unauthenticated"},
		{Name: "missing scope", Validator: v, Token: as.Token(map[string]any{"scope": "profile"}),
			Sentinel: accesstoken.ErrInsufficientScope, Status: http.StatusForbidden, GRPCCode: "PermissionDenied",
			Challenge: `Bearer realm="` + Realm + `", error="insufficient_scope", error_description="The access token lacks a required scope", scope="` + Scope + `"`},
		{Name: "token twice", Validator: v, Token: as.Token(map[string]any{"scope": Scope}), Twice: true,
			Sentinel: accesstoken.ErrInvalidRequest, Status: http.StatusBadRequest, GRPCCode: "InvalidArgument",
			Challenge: `Bearer realm="` + Realm + `", error="invalid_request", error_description="The request is malformed"`},
		{Name: "keys unavailable", Validator: unavailable, Token: down.Token(map[string]any{"scope": Scope}),
			Sentinel: accesstoken.ErrUnavailable, Status: http.StatusServiceUnavailable, GRPCCode: "Unavailable"},
	}
}
