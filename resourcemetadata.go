package accesstoken

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ResourceMetadata is an OAuth 2.0 Protected Resource Metadata document
// (RFC 9728 §2): what /.well-known/oauth-protected-resource serves, so that
// clients (MCP clients among them) discover which authorization servers
// issue tokens for this resource and how to present them. Unset members are
// left out of the document. Serve it with httpauth.ResourceMetadataHandler,
// which refuses metadata that breaks the RFC.
type ResourceMetadata struct {
	Resource                              string   `json:"resource"`                                             // required: the resource identifier, an https URL
	AuthorizationServers                  []string `json:"authorization_servers,omitempty"`                      // issuer identifiers
	JWKSURI                               string   `json:"jwks_uri,omitempty"`                                   // the resource's own signing keys
	ScopesSupported                       []string `json:"scopes_supported,omitempty"`                           //
	BearerMethodsSupported                []string `json:"bearer_methods_supported,omitempty"`                   // "header", "body", "query"
	ResourceSigningAlgValuesSupported     []string `json:"resource_signing_alg_values_supported,omitempty"`      //
	ResourceName                          string   `json:"resource_name,omitempty"`                              // for people
	ResourceDocumentation                 string   `json:"resource_documentation,omitempty"`                     // a URL
	ResourcePolicyURI                     string   `json:"resource_policy_uri,omitempty"`                        // a URL
	ResourceTOSURI                        string   `json:"resource_tos_uri,omitempty"`                           // a URL
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"` // RFC 8705
	AuthorizationDetailsTypesSupported    []string `json:"authorization_details_types_supported,omitempty"`      // RFC 9396
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported,omitempty"`          // RFC 9449
	DPoPBoundAccessTokensRequired         bool     `json:"dpop_bound_access_tokens_required,omitempty"`          // RFC 9449
}

const wellKnownResource = "/.well-known/oauth-protected-resource"

// ResourceMetadataURL gives the well-known URL of RFC 9728 §3.1 for a
// resource identifier: the well-known path goes between the host and the
// resource's path, so "https://api.example.com/orders" is described at
// "https://api.example.com/.well-known/oauth-protected-resource/orders".
func ResourceMetadataURL(resource string) (string, error) {
	u, err := checkResourceURL(resource)
	if err != nil {
		return "", fmt.Errorf("accesstoken: ResourceMetadataURL: %w", err)
	}
	u.Path = wellKnownResource + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// checkResourceURL accepts an absolute https URL without fragment, or http
// on a loopback host (for development and tests).
func checkResourceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Host == "" || u.User != nil:
		return nil, fmt.Errorf("%q is not an absolute URL", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%q has a fragment", raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("%q is not an https URL (http only on loopback)", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// Check reports what in m breaks RFC 9728: no resource, URLs that are not
// https (http only on loopback), a resource with a fragment, bearer methods
// other than header, body and query, or "none" among algorithms.
func (m *ResourceMetadata) Check() error {
	if m.Resource == "" {
		return errors.New("accesstoken: ResourceMetadata.Resource is required")
	}
	if _, err := checkResourceURL(m.Resource); err != nil {
		return fmt.Errorf("accesstoken: ResourceMetadata.Resource: %w", err)
	}
	for name, v := range map[string]string{"JWKSURI": m.JWKSURI, "ResourceDocumentation": m.ResourceDocumentation,
		"ResourcePolicyURI": m.ResourcePolicyURI, "ResourceTOSURI": m.ResourceTOSURI} {
		if v == "" {
			continue
		}
		if _, err := checkResourceURL(v); err != nil {
			return fmt.Errorf("accesstoken: ResourceMetadata.%s: %w", name, err)
		}
	}
	for _, as := range m.AuthorizationServers {
		u, err := checkResourceURL(as)
		if err == nil && (u.RawQuery != "" || u.ForceQuery) {
			err = fmt.Errorf("issuer %q has a query", as)
		}
		if err != nil {
			return fmt.Errorf("accesstoken: ResourceMetadata.AuthorizationServers: %w", err)
		}
	}
	for _, b := range m.BearerMethodsSupported {
		if b != "header" && b != "body" && b != "query" {
			return fmt.Errorf("accesstoken: ResourceMetadata.BearerMethodsSupported: %q is not header, body or query (RFC 6750 §2)", b)
		}
	}
	for _, algs := range [][]string{m.ResourceSigningAlgValuesSupported, m.DPoPSigningAlgValuesSupported} {
		for _, a := range algs {
			if a == "" || strings.EqualFold(a, "none") {
				return fmt.Errorf("accesstoken: ResourceMetadata: algorithm %q is not allowed (RFC 9728 §2)", a)
			}
		}
	}
	return nil
}
