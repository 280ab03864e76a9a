// Command huma is the README's huma recipe: each operation declares the
// scopes it needs in its OpenAPI security requirement, and one huma
// middleware enforces exactly that with an accesstoken validator.
//
//	go run ./examples/huma
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// authorize enforces each operation's OpenAPI security requirement
// ("bearer" with its scopes) with v; operations without one are public.
// Rejections carry the RFC 6750 challenge and huma's error body.
func authorize(api huma.API, v accesstoken.TokenValidator, realm string) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		var scopes []string
		secured := false
		for _, req := range ctx.Operation().Security {
			if s, ok := req["bearer"]; ok {
				secured = true
				scopes = append(scopes, s...)
			}
		}
		if !secured {
			next(ctx)
			return
		}
		token := ""
		if scheme, t, ok := strings.Cut(ctx.Header("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			token = t
		}
		claims, err := v.Validate(ctx.Context(), token)
		if err == nil {
			err = accesstoken.RequireScopes(claims, scopes...)
		}
		if err != nil {
			e := accesstoken.AsError(err)
			if challenge := e.Challenge(realm); challenge != "" {
				ctx.SetHeader("WWW-Authenticate", challenge)
			}
			huma.WriteErr(api, ctx, e.StatusCode(), e.Description)
			return
		}
		next(huma.WithContext(ctx, accesstoken.NewContext(ctx.Context(), claims)))
	}
}

type ordersOutput struct {
	Body struct {
		Owner string `json:"owner"`
	}
}

// newAPI is the recipe: the security scheme, the middleware, and the
// operations declaring what they need.
func newAPI(v accesstoken.TokenValidator) http.Handler {
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Orders", "1.0.0"))
	api.OpenAPI().Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	api.UseMiddleware(authorize(api, v, "orders-api"))
	huma.Register(api, huma.Operation{
		OperationID: "list-orders", Method: http.MethodGet, Path: "/orders",
		Security: []map[string][]string{{"bearer": {"orders:read"}}},
	}, func(ctx context.Context, _ *struct{}) (*ordersOutput, error) {
		claims, _ := accesstoken.FromContext(ctx)
		out := &ordersOutput{}
		out.Body.Owner = claims.Subject
		return out, nil
	})
	huma.Register(api, huma.Operation{OperationID: "ping", Method: http.MethodGet, Path: "/ping"},
		func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
	return mux
}

func run(out io.Writer) error {
	as := accesstokentest.NewServer()
	defer as.Close()
	v, err := accesstoken.NewValidator(context.Background(), accesstoken.Config{Issuer: as.Issuer(), Audience: []string{as.Audience()}, StrictStart: true})
	if err != nil {
		return err
	}
	defer v.Close()
	srv := httptest.NewServer(newAPI(v))
	defer srv.Close()
	for _, q := range []struct {
		label, path string
		claims      map[string]any
	}{
		{"ping, no token", "/ping", nil},
		{"orders, no token", "/orders", nil},
		{"orders, reader", "/orders", map[string]any{"sub": "alice", "scope": "orders:read"}},
		{"orders, no scope", "/orders", map[string]any{"sub": "alice", "scope": "profile"}},
	} {
		req, _ := http.NewRequest("GET", srv.URL+q.path, nil)
		if q.claims != nil {
			req.Header.Set("Authorization", "Bearer "+as.Token(q.claims))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "%-17s -> %d %s\n%19s %s\n", q.label, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), "", strings.TrimSpace(string(body)))
	}
	// The OpenAPI document huma serves says the same as the middleware.
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		return err
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(out, "openapi security of /orders: %v\n", strings.Contains(string(doc), `"security":[{"bearer":["orders:read"]}]`))
	return nil
}
