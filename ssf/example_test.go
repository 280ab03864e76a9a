package ssf_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/ssf"
)

// The event types a receiver asks its transmitter for.
func ExampleEventTypes() {
	for _, t := range ssf.EventTypes() {
		fmt.Println(strings.TrimPrefix(t, "https://schemas.openid.net/secevent/"))
	}
	// Output:
	// caep/event-type/credential-change
	// caep/event-type/session-revoked
	// caep/event-type/token-claims-change
	// oauth/event-type/token-revoked
	// oauth/event-type/tokens-revoked
	// risc/event-type/account-disabled
	// risc/event-type/account-purged
	// risc/event-type/credential-compromise
	// risc/event-type/sessions-revoked
}

// An API whose identity provider pushes session and account events: the
// receiver and the validator share one revocation list (over a Store every
// replica shares, such as redisstore), so an event pushed to any replica
// refuses the tokens on all of them and ends their open streams.
func ExampleNewReceiver() {
	ctx := context.Background()
	list := accesstoken.NewRevocations(accesstoken.NewMemoryStore()) // redisstore.New(...) with replicas
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:      "https://idp.example.com/realms/shop",
		Audience:    []string{"orders-api"},
		Revocations: list,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	recv, err := ssf.NewReceiver(ctx, ssf.Config{
		Transmitter:       "https://idp.example.com/realms/shop",
		Audience:          []string{"https://orders.example.com/ssf"},
		Revocations:       list,
		PushAuthorization: "Bearer " + os.Getenv("SSF_PUSH_SECRET"),
		StreamID:          os.Getenv("SSF_STREAM_ID"), // created once with CreateStream
		HTTPClient:        http.DefaultClient,         // one that authenticates to the transmitter
	})
	if err != nil {
		log.Fatal(err)
	}
	defer recv.Close()
	mux := http.NewServeMux()
	mux.Handle("POST /ssf/events", recv) // the stream's push endpoint_url
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
