// Package identity writes verified claims as the identity headers a
// gateway passes to the services behind it (httpauth's ForwardAuth and
// ForwardIdentity, the Envoy ext_authz server): header-safe text and
// space-separated lists that split back exactly.
package identity

import (
	"strings"

	"github.com/tokenguard/accesstoken/internal/jsonpointer"
)

// Text drops control characters, so that a claim can never split or
// end a header.
func Text(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// List joins items with spaces, percent-encoding "%" and " " inside an
// item so that the list splits back exactly.
func List(items []string) string {
	for _, it := range items {
		if strings.ContainsAny(it, " %") {
			list := make([]any, len(items))
			for i, it := range items {
				list[i] = it
			}
			return Text(jsonpointer.Text(list))
		}
	}
	switch len(items) {
	case 0:
		return ""
	case 1:
		return Text(items[0])
	}
	return Text(strings.Join(items, " "))
}
