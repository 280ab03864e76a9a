package bearer

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenguard/accesstoken"
)

func TestFromAuthorization(t *testing.T) {
	tests := []struct {
		values []string
		token  string
		err    error
	}{
		{nil, "", nil},
		{[]string{"Bearer abc.def-_~+/=="}, "abc.def-_~+/==", nil},
		{[]string{"bearer abc"}, "abc", nil},
		{[]string{"BEARER   abc"}, "abc", nil},
		{[]string{"Basic dXNlcjpwYXNz"}, "", nil},
		{[]string{"DPoP abc"}, "", nil},
		{[]string{"Bearer"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer "}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a b"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer abc "}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a=b"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer =abc"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a\"b"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer a\tb"}, "", accesstoken.ErrInvalidRequest},
		{[]string{"Bearer\tabc"}, "", nil}, // not the Bearer scheme followed by SP
		{[]string{"Bearer a", "Bearer b"}, "", accesstoken.ErrInvalidRequest},
	}
	for _, tt := range tests {
		tok, err := FromAuthorization(tt.values)
		if tok != tt.token || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("%q: %q, %v; want %q, %v", tt.values, tok, err, tt.token, tt.err)
		}
	}
}

func TestFromRequestPlaces(t *testing.T) {
	r := httptest.NewRequest("POST", "/?access_token=q", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok, err := FromRequest(r, false, false); !errors.Is(err, accesstoken.ErrNoToken) {
		t.Errorf("places off: %q %v", tok, err)
	}
	r = httptest.NewRequest("POST", "/?access_token=q", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := FromRequest(r, true, true); !errors.Is(err, accesstoken.ErrInvalidRequest) {
		t.Errorf("form and query: %v", err)
	}
	r = httptest.NewRequest("PUT", "/", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if tok, err := FromRequest(r, true, false); tok != "f" || err != nil {
		t.Errorf("form: %q %v", tok, err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("access_token=f"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if _, err := FromRequest(r, true, false); !errors.Is(err, accesstoken.ErrNoToken) {
		t.Errorf("multipart is not RFC 6750 §2.2: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("access_token=%zz"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := FromRequest(r, true, false); !errors.Is(err, accesstoken.ErrInvalidRequest) {
		t.Errorf("bad form: %v", err)
	}
}

// FuzzFromAuthorization: any header value gives a b64token found in it, no
// token, or invalid_request; never a panic.
func FuzzFromAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Basic x", "Bearer a b", "Bearer \x00", "Bearer ==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := FromAuthorization([]string{h})
		if err != nil {
			if !errors.Is(err, accesstoken.ErrInvalidRequest) || tok != "" {
				t.Fatalf("%q: %q %v", h, tok, err)
			}
			return
		}
		if tok != "" && (!isB64Token(tok) || !strings.HasSuffix(h, tok)) {
			t.Fatalf("%q gave token %q", h, tok)
		}
	})
}
