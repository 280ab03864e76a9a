package bearer

import (
	"strings"
	"testing"
)

// TestIdentityHeaders: values never carry a control character, and a list
// splits back into exactly its items.
func TestIdentityHeaders(t *testing.T) {
	for _, tt := range []struct {
		items []string
		want  string
	}{
		{nil, ""},
		{[]string{"orders:read"}, "orders:read"},
		{[]string{"a", "b"}, "a b"},
		{[]string{"team lead", "100%"}, "team%20lead 100%25"},
		{[]string{"x\r\nX-Admin: 1", "y"}, "xX-Admin:%201 y"}, // the space inside an item is encoded, the newline dropped
	} {
		if got := IdentityList(tt.items); got != tt.want {
			t.Errorf("IdentityList(%q) = %q, want %q", tt.items, got, tt.want)
		}
	}
	if got := IdentityValue("alice\x00\x7f\tbob"); got != "alicebob" {
		t.Errorf("IdentityValue: %q", got)
	}
	for _, bad := range []string{"", "tenant", "/a~2"} {
		if _, err := ParseClaimPointer(bad); err == nil {
			t.Errorf("ParseClaimPointer(%q) accepted", bad)
		}
	}
	p, err := ParseClaimPointer("/a~1b/0")
	if err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"a/b": []any{"first\nline", "second"}, "n": 1.5}
	if got := p.Value(payload); got != "firstline" || strings.ContainsAny(got, "\r\n") {
		t.Errorf("Value = %q", got)
	}
	n, _ := ParseClaimPointer("/n")
	missing, _ := ParseClaimPointer("/missing")
	if n.Value(payload) != "1.5" || missing.Value(payload) != "" || missing.Value(nil) != "" || Payload(nil) != nil {
		t.Error("a number, an absent claim or a nil payload")
	}
}
