package bearer

import (
	"strings"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/jsonpointer"
)

// IdentityValue is s made safe as a header value: control characters are
// dropped, so that a claim can never split or end a header.
func IdentityValue(s string) string {
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

// IdentityList joins items (scopes, roles) with spaces for one header value,
// percent-encoding "%" and " " inside an item so that the value splits back
// into exactly the items; control characters are dropped as by
// [IdentityValue].
func IdentityList(items []string) string {
	for _, it := range items {
		if strings.ContainsAny(it, " %") {
			list := make([]any, len(items))
			for i, it := range items {
				list[i] = it
			}
			return IdentityValue(jsonpointer.Text(list))
		}
	}
	switch len(items) {
	case 0:
		return ""
	case 1:
		return IdentityValue(items[0])
	}
	return IdentityValue(strings.Join(items, " "))
}

// ClaimPointer names one claim of a token by a JSON Pointer (RFC 6901), for
// a gateway that passes it on as a header, as Envoy's claim_to_headers does.
type ClaimPointer struct{ tokens []string }

// ParseClaimPointer reads a JSON Pointer such as "/tenant" or
// "/realm_access/roles". The empty pointer (the whole payload) and text that
// is not a pointer are errors.
func ParseClaimPointer(pointer string) (ClaimPointer, error) {
	t, err := jsonpointer.Parse(pointer)
	if err != nil {
		return ClaimPointer{}, err
	}
	return ClaimPointer{t}, nil
}

// Value is the header value of the claim p names in the payload of c: a
// string as is, a number or boolean as JSON text, an array of strings as by
// [IdentityList]; "" when the claim is absent or of another type. Pass the
// payload decoded once (c.Decode(&doc) into an any) for several pointers.
func (p ClaimPointer) Value(payload any) string {
	v, _ := jsonpointer.Get(payload, p.tokens)
	return IdentityValue(jsonpointer.Text(v))
}

// Payload decodes the claims' payload (or introspection answer) for
// [ClaimPointer.Value]; nil for nil claims.
func Payload(c *accesstoken.Claims) any {
	if c == nil {
		return nil
	}
	var doc any
	_ = c.Decode(&doc) // the payload was checked JSON: it decodes
	return doc
}
