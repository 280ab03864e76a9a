package connect2auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/internal/conformance"
	"github.com/tokenguard/accesstoken/middleware/connect2auth"
)

// A service registered by hand (no generated code): connect.Method values
// over the protobuf well-known StringValue.
const (
	service  = "/orders.v1.OrderService/"
	getOrder = service + "GetOrder"
	watch    = service + "WatchOrders"
	health   = "/grpc.health.v1.Health/Check"
)

var (
	unarySpec  = connect.Spec{StreamType: connect.StreamTypeUnary, Procedure: getOrder}
	streamSpec = connect.Spec{StreamType: connect.StreamTypeServer, Procedure: watch}
	healthSpec = connect.Spec{StreamType: connect.StreamTypeUnary, Procedure: health}
)

func subject(ctx context.Context) string {
	c, ok := accesstoken.FromContext(ctx)
	if !ok {
		return "(anonymous)"
	}
	return c.Subject
}

func newMux() *http.ServeMux {
	server := connect.NewServer()
	reply := func(prefix string, n int) connect.ServerFunc {
		return func(ctx context.Context, _ connect.Spec, s connect.ServerStream) error {
			var req wrapperspb.StringValue
			if err := s.Receive(&req); err != nil {
				return err
			}
			for range n {
				if err := s.Send(wrapperspb.String(prefix + subject(ctx))); err != nil {
					return err
				}
			}
			return nil
		}
	}
	server.Register(
		connect.Method{Spec: unarySpec, Handler: reply("", 1)},
		connect.Method{Spec: streamSpec, Handler: reply("", 2)},
		connect.Method{Spec: healthSpec, Handler: reply("SERVING ", 1)},
	)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	return mux
}

var protocols = map[string][]connecthttp.Option{
	"connect": nil, "grpc": {connecthttp.WithGRPC()}, "grpcweb": {connecthttp.WithGRPCWeb()},
}

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

// call makes a unary or server-streaming call with connect-go v2's client
// and returns what the handler saw, the response headers and trailers, and
// the error.
func call(client *http.Client, base string, spec connect.Spec, proto []connecthttp.Option, header http.Header) (string, http.Header, error) {
	ctx, info := connect.NewClientContext(context.Background())
	for k, vs := range header {
		for _, v := range vs {
			info.RequestHeader().Add(k, v)
		}
	}
	c := connect.NewClient(connecthttp.NewTransport(client, base, proto...))
	meta := func() http.Header {
		h := http.Header{}
		for k, vs := range info.ResponseHeader().All() {
			h[k] = vs
		}
		for k, vs := range info.ResponseTrailer().All() {
			h[k] = append(h[k], vs...)
		}
		return h
	}
	if spec.StreamType == connect.StreamTypeUnary {
		var res wrapperspb.StringValue
		err := c.CallUnary(ctx, spec, wrapperspb.String("x"), &res)
		return res.GetValue(), meta(), err
	}
	s, err := c.CallServerStream(ctx, spec, wrapperspb.String("x"))
	if err != nil {
		return "", meta(), err
	}
	defer s.Close()
	var got []string
	for {
		var res wrapperspb.StringValue
		err := s.Receive(&res)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", meta(), err
		}
		got = append(got, res.GetValue())
	}
	if len(got) != 2 || got[0] != got[1] {
		return "", meta(), fmt.Errorf("stream gave %q", got)
	}
	return got[0], meta(), nil
}

var codes = map[string]connect.Code{
	"Unauthenticated": connect.CodeUnauthenticated, "PermissionDenied": connect.CodePermissionDenied,
	"InvalidArgument": connect.CodeInvalidArgument, "Unavailable": connect.CodeUnavailable,
}

// TestConformance runs the table every adapter runs, with connect-go v2's
// client in the Connect, gRPC and gRPC-Web protocols, unary and streaming.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases(t) {
		opts := []connect2auth.Option{connect2auth.WithRealm(conformance.Realm), connect2auth.WithResourceMetadata(c.ResourceMetadata),
			connect2auth.WithScopes(service, conformance.Scope)}
		if c.Roles != nil {
			opts = append(opts, connect2auth.WithRoles(service, c.Roles...))
		}
		if c.TokenHeader != "" {
			opts = append(opts, connect2auth.WithTokenHeader(c.TokenHeader))
		}
		if c.Authentication != nil {
			opts = append(opts, connect2auth.WithAuthentication(service, *c.Authentication))
		}
		srv, client := serve(t, connect2auth.Middleware(c.Validator, opts...)(newMux()), c.TLS)
		for name, proto := range protocols {
			for _, spec := range []connect.Spec{unarySpec, streamSpec} {
				t.Run(fmt.Sprintf("%s/%s/%s", c.Name, name, spec.StreamType), func(t *testing.T) {
					header := http.Header{}
					c.SetHeaders(header)
					if c.Proof != nil {
						header.Set("DPoP", c.Proof("POST", srv.URL+spec.Procedure))
					}
					got, h, err := call(client, srv.URL, spec, proto, header)
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

func TestProcedureRules(t *testing.T) {
	valid := conformance.Cases(t)[0]
	h := connect2auth.Middleware(valid.Validator,
		connect2auth.WithCredentialsOptional(),
		connect2auth.WithScopes(service, conformance.Scope),
		connect2auth.WithScopes(watch, "orders:watch"),
		connect2auth.WithoutAuthentication("/grpc.health.v1.Health/"),
	)(newMux())
	srv, client := serve(t, h, nil)
	bearer := http.Header{"Authorization": {"Bearer " + valid.Token}}
	for name, proto := range protocols {
		t.Run(name, func(t *testing.T) {
			if got, _, err := call(client, srv.URL, unarySpec, proto, bearer); err != nil || got != "alice" {
				t.Errorf("GetOrder: %q %v", got, err)
			}
			if _, _, err := call(client, srv.URL, streamSpec, proto, bearer); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Errorf("WatchOrders without orders:watch: %v", err)
			}
			if _, _, err := call(client, srv.URL, unarySpec, proto, nil); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("GetOrder without a token under WithCredentialsOptional: %v", err)
			}
			if got, _, err := call(client, srv.URL, healthSpec, proto, http.Header{"Authorization": {"Bearer garbage"}}); err != nil || got != "SERVING (anonymous)" {
				t.Errorf("health: %q %v", got, err)
			}
		})
	}
}
