package accesstoken_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// TestScopeImplies: a broader scope grants the narrower ones, transitively,
// through HasScope and RequireScopes, for JWTs, cached JWTs and
// introspected tokens alike; Claims.Scopes keeps what the token carried.
func TestScopeImplies(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	ctx := context.Background()
	hierarchy := map[string][]string{
		"repo:admin": {"repo:write"},
		"repo:write": {"repo:read"},
		"ping":       {"pong"}, // a cycle
		"pong":       {"ping"},
	}
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()},
		Profile:           &accesstoken.Profile{ScopeImplies: hierarchy},
		VerifiedCacheSize: 16,
		Introspection:     &accesstoken.IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	exact, err := accesstoken.NewValidator(ctx, accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}})
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()

	admin := as.Token(map[string]any{"scope": "repo:admin"})
	for name, token := range map[string]string{
		"JWT":          admin,
		"cached JWT":   admin, // the second validation of the same token
		"introspected": as.OpaqueToken(map[string]any{"scope": "repo:admin", "sub": "alice"}),
	} {
		c, err := v.Validate(ctx, token)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff([]string{"repo:admin"}, c.Scopes); diff != "" {
			t.Errorf("%s: Scopes is not what the token carried (-want +got):\n%s", name, diff)
		}
		for _, s := range []string{"repo:admin", "repo:write", "repo:read"} {
			if !c.HasScope(s) {
				t.Errorf("%s: repo:admin does not grant %s", name, s)
			}
		}
		if c.HasScope("ping") || c.HasScope("repo") {
			t.Errorf("%s: a scope outside the hierarchy is granted", name)
		}
		if err := accesstoken.RequireScopes(c, "repo:read", "repo:write"); err != nil {
			t.Errorf("%s: RequireScopes: %v", name, err)
		}
	}

	c, err := v.Validate(ctx, as.Token(map[string]any{"scope": "repo:read ping"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasScope("pong") || !c.HasScope("ping") {
		t.Error("a cycle: ping grants pong")
	}
	err = accesstoken.RequireScopes(c, "repo:read", "repo:admin")
	if !errors.Is(err, accesstoken.ErrInsufficientScope) || accesstoken.AsError(err).Scope != "repo:read repo:admin" {
		t.Errorf("a narrower scope does not grant a broader one: %v", err)
	}

	// Another validator, without the hierarchy: exact matching.
	c, err = exact.Validate(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if c.HasScope("repo:read") || !c.HasScope("repo:admin") {
		t.Error("without ScopeImplies, scopes match exactly")
	}
}

func TestScopeImpliesRefusesBadNames(t *testing.T) {
	for _, bad := range []map[string][]string{
		{"": {"a"}},
		{"a b": {"c"}},
		{"a": {"b c"}},
		{"a": {`quote"`}},
		{"a": {"é"}},
	} {
		_, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{
			Issuer: "https://issuer.example", Audience: []string{"api"}, JWKSURL: "https://issuer.example/jwks",
			Profile: &accesstoken.Profile{ScopeImplies: bad},
		})
		if err == nil || !strings.Contains(err.Error(), "ScopeImplies") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// ExampleProfile_scopeImplies: a token with a broader scope passes a check
// for a narrower one.
func ExampleProfile_scopeImplies() {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, _ := accesstoken.NewValidator(context.Background(), accesstoken.Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()},
		Profile: &accesstoken.Profile{ScopeImplies: map[string][]string{
			"repo:admin": {"repo:write"},
			"repo:write": {"repo:read"},
		}},
	})
	defer v.Close()
	c, _ := v.Validate(context.Background(), as.Token(map[string]any{"scope": "repo:admin"}))
	fmt.Println(c.Scopes, c.HasScope("repo:read"), accesstoken.RequireScopes(c, "repo:read", "repo:write") == nil)
	// Output: [repo:admin] true true
}
