package accesstoken

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

// TestRoleShapesGolden reads the roles of real-world token shapes (Entra ID,
// Auth0, Keycloak, Okta, Cognito, and odd values) under the default and
// vendor-specific RoleClaims, pinned in testdata/roles.golden.
func TestRoleShapesGolden(t *testing.T) {
	cases := []struct {
		payload  string
		pointers []string // nil: the default
	}{
		{"entra", nil},
		{"auth0", nil},
		{"auth0", []string{"/https:~1~1example.com~1roles", "/permissions"}},
		{"keycloak", nil},
		{"keycloak", []string{"/realm_access/roles", "/resource_access/orders-api/roles"}},
		{"keycloak", []string{"/resource_access/orders-api/roles/1"}},
		{"okta", nil},
		{"okta", []string{"/groups"}},
		{"cognito", nil},
		{"cognito", []string{"/cognito:groups"}},
		{"odd", nil},
		{"entra", []string{}},
	}
	var b strings.Builder
	for _, c := range cases {
		raw, err := os.ReadFile(filepath.Join("testdata", "roles", c.payload+".json"))
		if err != nil {
			t.Fatal(err)
		}
		pointers, err := parseRoleClaims(c.pointers)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := parseClaims(raw)
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		label := "default"
		if c.pointers != nil {
			label = fmt.Sprintf("%q", c.pointers)
		}
		fmt.Fprintf(&b, "%s\t%s\t%q\n", c.payload, label, gatherRoles(mustMembers(pc.raw), pointers))
	}
	checkGolden(t, "roles.golden", b.String())
}

func TestRoleClaimsRefused(t *testing.T) {
	for _, bad := range []string{"roles", "", "/a~2b", "/a~"} {
		_, err := NewValidator(context.Background(), Config{Issuer: "https://as.example", Audience: []string{"x"}, RoleClaims: []string{bad}})
		if err == nil || !strings.Contains(err.Error(), "RoleClaims") {
			t.Errorf("RoleClaims %q: %v", bad, err)
		}
	}
}

func TestPointerUnescape(t *testing.T) {
	p, err := parsePointer("/a~1b/c~0d/~01")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonPointer{"a/b", "c~d", "~1"}, p); diff != "" {
		t.Error(diff)
	}
}

// TestRolesFromJWTAndIntrospection: roles come from a verified JWT and from
// an introspection answer alike, and from the verified-token cache.
func TestRolesFromJWTAndIntrospection(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := NewValidator(context.Background(), Config{
		Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true,
		RoleClaims:    []string{"/realm_access/roles", "/resource_access/orders-api/roles", "/cognito:groups"},
		Introspection: &IntrospectionConfig{ClientID: accesstokentest.IntrospectionClientID, ClientSecret: accesstokentest.IntrospectionClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	keycloak := map[string]any{"realm_access": map[string]any{"roles": []string{"orders-admin"}},
		"resource_access": map[string]any{"orders-api": map[string]any{"roles": []string{"reader", "orders-admin"}}}}
	jwt := as.Token(keycloak)
	for range 2 { // the second time from the verified-token cache
		c, err := v.Validate(context.Background(), jwt)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"orders-admin", "reader"}, c.Roles); diff != "" {
			t.Errorf("JWT roles (-want +got):\n%s", diff)
		}
	}
	c, err := v.Validate(context.Background(), as.OpaqueToken(map[string]any{"cognito:groups": []string{"admins"}}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"admins"}, c.Roles); diff != "" {
		t.Errorf("introspected roles (-want +got):\n%s", diff)
	}
	if !c.HasRole("admins") || c.HasRole("reader") {
		t.Error("HasRole")
	}
}

func TestRequireRoles(t *testing.T) {
	c := &Claims{Roles: []string{"reader", "admin"}, Scopes: []string{"orders:read"}}
	if err := RequireRoles(c, "reader", "admin"); err != nil {
		t.Fatal(err)
	}
	err := RequireRoles(c, "reader", "auditor")
	checkResult(t, nil, err, result{ErrInsufficientScope, descInsufficientRole})
	e := AsError(err)
	if e.Scope != "" || e.StatusCode() != 403 || e.Challenge("api") != `Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required role"` {
		t.Errorf("challenge %q, scope %q, status %d", e.Challenge("api"), e.Scope, e.StatusCode())
	}
	checkResult(t, nil, RequireRoles(nil, "reader"), result{ErrNoToken, ""})
	if err := RequireRoles(&Claims{}); err != nil {
		t.Errorf("no roles required: %v", err)
	}
}

func mustMembers(raw []byte) []jsonMember {
	m, err := parseObject(raw)
	if err != nil {
		panic(err)
	}
	return m
}
