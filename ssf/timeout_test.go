package ssf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenguard/accesstoken"
)

// A transmitter that stops answering never hangs a Poll, even with a
// context that has no deadline.
func TestPollGivesUpOnASilentTransmitter(t *testing.T) {
	old := requestTimeout
	requestTimeout = 300 * time.Millisecond
	defer func() { requestTimeout = old }()
	stall := make(chan struct{})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/ssf-configuration":
			w.Write([]byte(`{"issuer":"` + srv.URL + `","jwks_uri":"` + srv.URL + `/jwks","configuration_endpoint":"` + srv.URL + `/streams"}`))
		case "/streams":
			w.Write([]byte(`{"stream_id":"s","delivery":{"method":"urn:ietf:rfc:8936","endpoint_url":"` + srv.URL + `/poll"}}`))
		case "/poll":
			select { // never answers
			case <-stall:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(stall)
	r, err := NewReceiver(context.Background(), Config{Transmitter: srv.URL, Audience: []string{"a"},
		Revocations: accesstoken.NewRevocations(accesstoken.NewMemoryStore()), StreamID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if err := r.Poll(context.Background()); err == nil {
		t.Fatal("a poll nobody answered succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Poll took %v", took)
	}
}
