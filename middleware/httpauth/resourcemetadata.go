package httpauth

import (
	"encoding/json"
	"net/http"

	"github.com/tokenguard/accesstoken"
)

// ResourceMetadataHandler serves m as RFC 9728 protected resource metadata:
// JSON for GET and HEAD, cacheable for an hour and readable from any origin
// (it is public), 405 for other methods. Mount it at the path of
// [accesstoken.ResourceMetadataURL] for m.Resource. It panics on metadata
// that breaks RFC 9728 ([accesstoken.ResourceMetadata.Check]), as
// http.ServeMux.Handle does on a bad pattern.
func ResourceMetadataHandler(m accesstoken.ResourceMetadata) http.Handler {
	if err := m.Check(); err != nil {
		panic("httpauth.ResourceMetadataHandler: " + err.Error())
	}
	body, err := json.Marshal(m)
	if err != nil {
		panic("httpauth.ResourceMetadataHandler: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "public, max-age=3600")
			w.Write(body)
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			w.WriteHeader(http.StatusNoContent)
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// WithResourceMetadata adds resource_metadata="url" to the challenges of
// 401 and 403 answers (RFC 9728 §5.1), so that a client without a token, or
// with the wrong one, can discover which authorization server to ask: the
// URL of [ResourceMetadataHandler], from [accesstoken.ResourceMetadataURL].
func WithResourceMetadata(url string) Option {
	return optionFunc(func(c *config) { c.resourceMetadata = url })
}
