package accesstoken_test

import (
	"context"
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
