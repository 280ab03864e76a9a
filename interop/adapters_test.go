package interop

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	echo4 "github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/middleware/echo5auth"
	"github.com/tokenguard/accesstoken/middleware/echoauth"
	"github.com/tokenguard/accesstoken/middleware/grpcauth"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
)

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// caller sends a token ("" for none) to a protected endpoint: as Bearer, or,
// with proof set, under the DPoP scheme with proof(method, url) for the URL
// the endpoint serves. It reports whether the call was accepted and which
// client_id the handler saw in the claims.
type caller func(token string, proof func(method, url string) string) (bool, string)

// tlsPair makes an adapter's endpoint serve TLS, asking for client
// certificates, and its caller present one.
type tlsPair struct{ server, client *tls.Config }

// adapter starts a protected endpoint needing scope, over TLS when tp is
// not nil.
type adapter struct {
	name  string
	start func(t *testing.T, v accesstoken.TokenValidator, scope string, tp *tlsPair) caller
}

var adapters = []adapter{
	{"httpauth", startHTTP},
	{"echoauth", startEcho4},
	{"echo5auth", startEcho5},
	{"grpcauth", startGRPC},
}

func clientOf(ctx context.Context) string {
	c, _ := accesstoken.FromContext(ctx)
	if c == nil {
		return ""
	}
	return c.ClientID
}

func httpCaller(t *testing.T, h http.Handler, tp *tlsPair) caller {
	srv := httptest.NewUnstartedServer(h)
	client := http.DefaultClient
	if tp != nil {
		srv.TLS = tp.server.Clone()
		srv.StartTLS()
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tp.client.Clone()}}
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return func(token string, proof func(method, url string) string) (bool, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
		switch {
		case token != "" && proof != nil:
			req.Header.Set("Authorization", "DPoP "+token)
			req.Header.Set("DPoP", proof("GET", srv.URL+"/orders"))
		case token != "":
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, string(body)
	}
}

func startHTTP(t *testing.T, v accesstoken.TokenValidator, scope string, tp *tlsPair) caller {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, clientOf(r.Context())) })
	return httpCaller(t, httpauth.Middleware(v)(httpauth.RequireScopes(scope)(h)), tp)
}

func startEcho4(t *testing.T, v accesstoken.TokenValidator, scope string, tp *tlsPair) caller {
	e := echo4.New()
	e.Use(echoauth.Middleware(v))
	e.GET("/orders", func(c echo4.Context) error {
		return c.String(http.StatusOK, clientOf(c.Request().Context()))
	}, echoauth.RequireScopes(scope))
	return httpCaller(t, e, tp)
}

func startEcho5(t *testing.T, v accesstoken.TokenValidator, scope string, tp *tlsPair) caller {
	e := echo5.New()
	e.Use(echo5auth.Middleware(v))
	e.GET("/orders", func(c *echo5.Context) error {
		return c.String(http.StatusOK, clientOf(c.Request().Context()))
	}, echo5auth.RequireScopes(scope))
	return httpCaller(t, e, tp)
}

type health struct {
	healthpb.UnimplementedHealthServer
}

func (health) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	grpc.SetHeader(ctx, metadata.Pairs("x-client", clientOf(ctx)))
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func startGRPC(t *testing.T, v accesstoken.TokenValidator, scope string, tp *tlsPair) caller {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(v,
		grpcauth.WithScopes("/grpc.health.v1.Health/Check", scope)))}
	clientCreds, scheme := insecure.NewCredentials(), "http://"
	if tp != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tp.server.Clone())))
		clientCreds, scheme = credentials.NewTLS(tp.client.Clone()), "https://"
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(clientCreds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	const method = "/grpc.health.v1.Health/Check"
	return func(token string, proof func(method, url string) string) (bool, string) {
		ctx := context.Background()
		switch {
		case token != "" && proof != nil:
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "DPoP "+token,
				"dpop", proof("POST", scheme+lis.Addr().String()+method))
		case token != "":
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		var header metadata.MD
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		if err != nil {
			return false, ""
		}
		return true, header.Get("x-client")[0]
	}
}
