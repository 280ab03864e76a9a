package connectauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/connectauth"
)

// A service without generated code: connect-go's generic handlers over the
// protobuf well-known StringValue.
const (
	service   = "/orders.v1.OrderService/"
	getOrder  = service + "GetOrder"
	watch     = service + "WatchOrders"
	health    = "/grpc.health.v1.Health/Check"
	noService = "/other.v1.Other/Call"
)

type str = wrapperspb.StringValue

func subject(ctx context.Context) string {
	c, ok := accesstoken.FromContext(ctx)
	if !ok {
		return "(anonymous)"
	}
	return c.Subject
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(getOrder, connect.NewUnaryHandler(getOrder, func(ctx context.Context, _ *connect.Request[str]) (*connect.Response[str], error) {
		return connect.NewResponse(wrapperspb.String(subject(ctx))), nil
	}))
	mux.Handle(watch, connect.NewServerStreamHandler(watch, func(ctx context.Context, _ *connect.Request[str], s *connect.ServerStream[str]) error {
		for range 2 {
			if err := s.Send(wrapperspb.String(subject(ctx))); err != nil {
				return err
			}
		}
		return nil
	}))
	mux.Handle(health, connect.NewUnaryHandler(health, func(ctx context.Context, _ *connect.Request[str]) (*connect.Response[str], error) {
		return connect.NewResponse(wrapperspb.String("SERVING " + subject(ctx))), nil
	}))
	return mux
}

var protocols = map[string]connect.ClientOption{
	"connect": connect.WithProtoJSON(), "grpc": connect.WithGRPC(), "grpcweb": connect.WithGRPCWeb(),
}

// serve starts handler on loopback speaking HTTP/2 (h2c, or TLS with the
// case's configuration) and returns a client for it.
func serve(t *testing.T, handler http.Handler, tlsCase *conformance.TLS) (*httptest.Server, *http.Client) {
	srv := httptest.NewUnstartedServer(handler)
	if tlsCase != nil {
		srv.EnableHTTP2 = true
		srv.TLS = tlsCase.Server.Clone()
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv, &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCase.Client.Clone(), ForceAttemptHTTP2: true}}
	}
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return srv, &http.Client{Transport: tr}
}

// call makes one unary or server-streaming call and returns the subject
// the handler saw, or the error, with the response headers.
func call(ctx context.Context, client *http.Client, url string, stream bool, proto connect.ClientOption, header http.Header) (string, http.Header, error) {
	req := connect.NewRequest(wrapperspb.String("x"))
	for k, vs := range header {
		for _, v := range vs {
			req.Header().Add(k, v)
		}
	}
	if !stream {
		c := connect.NewClient[str, str](client, url, proto)
		res, err := c.CallUnary(ctx, req)
		if err != nil {
			return "", errHeader(err), err
		}
		return res.Msg.GetValue(), res.Header(), nil
	}
	c := connect.NewClient[str, str](client, url, proto)
	s, err := c.CallServerStream(ctx, req)
	if err != nil {
		return "", errHeader(err), err
	}
	defer s.Close()
	var got []string
	for s.Receive() {
		got = append(got, s.Msg().GetValue())
	}
	if err := s.Err(); err != nil {
		h := errHeader(err)
		if h.Get("WWW-Authenticate") == "" && h.Get("DPoP-Nonce") == "" {
			h = s.ResponseHeader()
		}
		return "", h, err
	}
	if len(got) != 2 || got[0] != got[1] {
		return "", nil, fmt.Errorf("stream gave %q", got)
	}
	return got[0], s.ResponseHeader(), nil
}

func errHeader(err error) http.Header {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Meta()
	}
	return http.Header{}
}

var codes = map[string]connect.Code{
	"Unauthenticated": connect.CodeUnauthenticated, "PermissionDenied": connect.CodePermissionDenied,
	"InvalidArgument": connect.CodeInvalidArgument, "Unavailable": connect.CodeUnavailable,
}

// TestConformance runs the table every adapter runs, with connect-go's own
// client in the Connect, gRPC and gRPC-Web protocols, unary and streaming.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		opts := []connectauth.Option{connectauth.WithRealm(conformance.Realm), connectauth.WithResourceMetadata(c.ResourceMetadata),
			connectauth.WithScopes(service, conformance.Scope)}
		if c.Roles != nil {
			opts = append(opts, connectauth.WithRoles(service, c.Roles...))
		}
		if c.TokenHeader != "" {
			opts = append(opts, connectauth.WithTokenHeader(c.TokenHeader))
		}
		if c.Authentication != nil {
			opts = append(opts, connectauth.WithAuthentication(service, *c.Authentication))
		}
		srv, client := serve(t, connectauth.Middleware(c.Validator, opts...)(newMux()), c.TLS)
		for name, proto := range protocols {
			for _, stream := range []bool{false, true} {
				proc := getOrder
				if stream {
					proc = watch
				}
				t.Run(fmt.Sprintf("%s/%s/stream=%v", c.Name, name, stream), func(t *testing.T) {
					header := http.Header{}
					c.SetHeaders(header)
					if c.Proof != nil {
						header.Set("DPoP", c.Proof("POST", srv.URL+proc))
					}
					got, h, err := call(context.Background(), client, srv.URL+proc, stream, proto, header)
					if (h.Get("DPoP-Nonce") != "") != c.Nonce {
						t.Fatalf("DPoP-Nonce %q, want one: %v (%v)", h.Get("DPoP-Nonce"), c.Nonce, err)
					}
					if c.Sentinel == nil {
						if err != nil || got != c.Subject {
							t.Fatalf("got %q, %v; want %q", got, err, c.Subject)
						}
						return
					}
					if code := connect.CodeOf(err); code != codes[c.GRPCCode] {
						t.Fatalf("code %v (%v), want %s", code, err, c.GRPCCode)
					}
					if got := h.Get("WWW-Authenticate"); got != c.Challenge {
						t.Fatalf("WWW-Authenticate %q, want %q", got, c.Challenge)
					}
				})
			}
		}
	}
}

// Per-procedure rules: a procedure's own scopes add to its service's,
// public procedures need no token, and credentials-optional still refuses a
// protected procedure without one.
func TestProcedureRules(t *testing.T) {
	cases := conformance.Cases(t)
	valid := cases[0] // scope orders:read, subject alice
	v := valid.Validator
	h := connectauth.Middleware(v,
		connectauth.WithCredentialsOptional(),
		connectauth.WithScopes(service, conformance.Scope),
		connectauth.WithScopes(watch, "orders:watch"),
		connectauth.WithoutAuthentication("/grpc.health.v1.Health/"),
	)(newMux())
	srv, client := serve(t, h, nil)
	bearer := http.Header{"Authorization": {"Bearer " + valid.Token}}
	for name, proto := range protocols {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if got, _, err := call(ctx, client, srv.URL+getOrder, false, proto, bearer); err != nil || got != "alice" {
				t.Errorf("GetOrder: %q %v", got, err)
			}
			if _, _, err := call(ctx, client, srv.URL+watch, true, proto, bearer); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("WatchOrders without orders:watch: %v", err)
			}
			if _, _, err := call(ctx, client, srv.URL+getOrder, false, proto, nil); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("GetOrder without a token under WithCredentialsOptional: %v", err)
			}
			if got, _, err := call(ctx, client, srv.URL+health, false, proto, http.Header{"Authorization": {"Bearer garbage"}}); err != nil || got != "SERVING (anonymous)" {
				t.Errorf("health: %q %v", got, err)
			}
		})
	}
	// A plain HTTP request to the same middleware is answered as httpauth does.
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer garbage")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("plain request: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, bad := range []string{"orders.v1.OrderService/", "/orders.v1.OrderService", "/a/b/c", "//x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithScopes(%q) did not panic", bad)
				}
			}()
			connectauth.WithScopes(bad, "x")
		}()
	}
}
