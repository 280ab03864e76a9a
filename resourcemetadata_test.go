package accesstoken

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResourceMetadataURL(t *testing.T) {
	tests := []struct{ resource, want string }{
		{"https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"},
		{"https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource"},
		{"https://api.example.com/orders", "https://api.example.com/.well-known/oauth-protected-resource/orders"},
		{"https://api.example.com:8443/v1/orders", "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/orders"},
		{"https://api.example.com/mcp?tenant=a", "https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a"},
		{"http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"},
	}
	for _, tt := range tests {
		got, err := ResourceMetadataURL(tt.resource)
		if err != nil || got != tt.want {
			t.Errorf("ResourceMetadataURL(%q) = %q, %v; want %q", tt.resource, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/orders", "http://api.example.com/orders", "https://api.example.com/#x", "ftp://api.example.com"} {
		if got, err := ResourceMetadataURL(bad); err == nil {
			t.Errorf("ResourceMetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestResourceMetadataCheck(t *testing.T) {
	good := ResourceMetadata{Resource: "https://api.example.com", AuthorizationServers: []string{"https://as.example.com"}}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*ResourceMetadata)
		say  string
	}{
		{"no resource", func(m *ResourceMetadata) { m.Resource = "" }, "Resource is required"},
		{"http resource", func(m *ResourceMetadata) { m.Resource = "http://api.example.com" }, "not an https URL"},
		{"resource with fragment", func(m *ResourceMetadata) { m.Resource = "https://api.example.com/#a" }, "fragment"},
		{"http issuer", func(m *ResourceMetadata) { m.AuthorizationServers = []string{"http://as.example.com"} }, "AuthorizationServers"},
		{"issuer with query", func(m *ResourceMetadata) { m.AuthorizationServers = []string{"https://as.example.com?x=1"} }, "query"},
		{"http jwks_uri", func(m *ResourceMetadata) { m.JWKSURI = "http://api.example.com/jwks" }, "JWKSURI"},
		{"bearer method cookie", func(m *ResourceMetadata) { m.BearerMethodsSupported = []string{"header", "cookie"} }, "cookie"},
		{"alg none", func(m *ResourceMetadata) { m.DPoPSigningAlgValuesSupported = []string{"ES256", "none"} }, "none"},
	}
	for _, tt := range tests {
		m := good
		tt.edit(&m)
		if err := m.Check(); err == nil || !strings.Contains(err.Error(), tt.say) {
			t.Errorf("%s: %v, want it to say %q", tt.name, err, tt.say)
		}
	}
}

// TestResourceMetadataGolden pins the JSON of a full document and of a
// minimal one (unset members left out).
func TestResourceMetadataGolden(t *testing.T) {
	full := ResourceMetadata{
		Resource: "https://api.example.com/orders", AuthorizationServers: []string{"https://as.example.com"},
		JWKSURI: "https://api.example.com/jwks", ScopesSupported: []string{"orders:read", "orders:write"},
		BearerMethodsSupported: []string{"header"}, ResourceSigningAlgValuesSupported: []string{"ES256"},
		ResourceName: "Orders API", ResourceDocumentation: "https://docs.example.com/orders",
		ResourcePolicyURI: "https://example.com/policy", ResourceTOSURI: "https://example.com/tos",
		TLSClientCertificateBoundAccessTokens: true, AuthorizationDetailsTypesSupported: []string{"payment_initiation"},
		DPoPSigningAlgValuesSupported: []string{"ES256", "EdDSA"}, DPoPBoundAccessTokensRequired: true,
	}
	minimal := ResourceMetadata{Resource: "https://api.example.com"}
	var b strings.Builder
	for _, m := range []ResourceMetadata{full, minimal} {
		if err := m.Check(); err != nil {
			t.Fatal(err)
		}
		out, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	checkGolden(t, "resource_metadata.golden", b.String())
}
