package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/extauthz"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
	"github.com/tokenguard/accesstoken/redisstore"
)

// serveFlags are serve's settings beyond check's.
type serveFlags struct {
	check                                                *checkFlags
	config, httpAddr, grpcAddr, redisURL, realm          string
	introEndpoint, introClientID, introSecret, redisPref string
	decryptionKeys                                       string
	dpop, dpopNonces, trustCert                          bool
	scopes, roles, proxies                               multiFlag
	shutdown                                             time.Duration
	rules                                                rules // YAML only
	signals                                              signalsFlags
	txn                                                  txnFlags
}

func newServeFlags(stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	fs, cf := newCheckFlags(stderr)
	fs.Init("serve", flag.ContinueOnError)
	// check's flags that make no sense for a server.
	f := &serveFlags{check: cf}
	fs.StringVar(&f.config, "config", "", "a YAML file of settings, keys named as the flags")
	fs.StringVar(&f.httpAddr, "http", ":8080", `listen address of ForwardAuth (every path but /healthz, /readyz, /metrics); "" turns it off`)
	fs.StringVar(&f.grpcAddr, "grpc", "", `listen address of the Envoy ext_authz gRPC service; "" (the default) turns it off`)
	fs.StringVar(&f.realm, "realm", "", "the realm of WWW-Authenticate challenges")
	fs.Var(&f.scopes, "required-scope", "a scope every token must hold (repeatable)")
	fs.Var(&f.roles, "required-role", "a role every token must hold (repeatable)")
	fs.BoolVar(&f.dpop, "dpop", false, "accept DPoP-bound tokens (RFC 9449)")
	fs.BoolVar(&f.dpopNonces, "dpop-nonces", false, "require server-issued DPoP nonces (with --dpop)")
	fs.StringVar(&f.redisURL, "redis", "", "a redis:// URL: replicas share the DPoP replay cache, introspection answers and revocations")
	fs.StringVar(&f.redisPref, "redis-prefix", "accesstoken:", "the prefix of every Redis key")
	fs.StringVar(&f.introEndpoint, "introspection-endpoint", "", "RFC 7662 endpoint for opaque tokens (\"discover\": from the issuer's metadata)")
	fs.StringVar(&f.introClientID, "introspection-client-id", "", "this server's client ID at the introspection endpoint")
	fs.StringVar(&f.introSecret, "introspection-client-secret", "", "its client secret (prefer ACCESSTOKEN_INTROSPECTION_CLIENT_SECRET)")
	fs.StringVar(&f.decryptionKeys, "decryption-keys", "", "a JWK Set file of this API's private keys, to decrypt encrypted (JWE) access tokens")
	fs.BoolVar(&f.trustCert, "trusted-certificate", false, "ext_authz: take the client certificate of certificate-bound tokens from Envoy's attributes.source.certificate")
	fs.Var(&f.proxies, "trusted-proxy", "a CIDR or address whose X-Forwarded-*/X-Original-* headers ForwardAuth believes (repeatable)")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 20*time.Second, "how long SIGTERM waits for requests under way")
	f.signals.register(fs)
	f.txn.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: accesstoken serve [flags]\n\n"+
			"Serves ForwardAuth over HTTP (nginx auth_request, Traefik, Caddy) and Envoy ext_authz over gRPC\n"+
			"from one configuration. Every flag is also an environment variable ACCESSTOKEN_<NAME> (upper\n"+
			"case, \"-\" as \"_\"; lists comma-separated) and a key of the --config YAML file; a flag wins\n"+
			"over the environment, which wins over the file. A bad configuration exits 2 naming the setting;\n"+
			"SIGTERM lets requests under way finish and exits 0.\n\n"+
			"The YAML file alone also takes operation_scopes (a list of {method, name, scopes}: scopes per\n"+
			"MCP method, tool, prompt or resource, read from the Mcp-Method and Mcp-Name headers), path_scopes\n"+
			"(a map of path prefix to scopes; ForwardAuth needs trusted-proxy to learn the original path) and\n"+
			"claim_headers (a map of header name to a claim's JSON Pointer, such as /tenant).\n\n"+
			"With ssf-transmitter, serve receives a Shared Signals transmitter's events (pushed to\n"+
			"ssf-push-path, or polled every ssf-poll) and revokes the sessions, users and tokens they name, on\n"+
			"every replica when redis is set; the push path is not behind ForwardAuth.\n\n"+
			"With txn-token-audience, serve mints a Transaction Token for every request it lets through\n"+
			"(Txn-Token: ForwardAuth answers it, ext_authz sets it on the forwarded request), signed with\n"+
			"txn-token-key (public key at /.well-known/jwks.json) or obtained from txn-token-service.\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, f
}

// resolveSettings applies the environment, then the --config file, to every
// flag not given on the command line.
func resolveSettings(fs *flag.FlagSet, f *serveFlags) error {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	set := func(name, value, from string) error {
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("setting %s (%s): %v", name, from, err)
		}
		return nil
	}
	fromEnv := map[string]bool{}
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "ACCESSTOKEN_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		value, ok := os.LookupEnv(env)
		if !ok || given[fl.Name] || err != nil {
			return
		}
		fromEnv[fl.Name] = true
		if _, list := fl.Value.(*multiFlag); list {
			for _, item := range strings.Split(value, ",") {
				if item = strings.TrimSpace(item); item != "" {
					if err = set(fl.Name, item, env); err != nil {
						return
					}
				}
			}
			return
		}
		err = set(fl.Name, value, env)
	})
	if err != nil || f.config == "" {
		return err
	}
	b, err := os.ReadFile(f.config)
	if err != nil {
		return fmt.Errorf("setting config: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("setting config: %s is not a YAML map: %v", f.config, err)
	}
	for key, value := range doc {
		if set, ok := yamlOnly[strings.ReplaceAll(key, "-", "_")]; ok {
			if err := set(&f.rules, value); err != nil {
				return fmt.Errorf("setting %s (%s): %v", key, f.config, err)
			}
			continue
		}
		fl := fs.Lookup(key)
		switch {
		case fl == nil || key == "config":
			return fmt.Errorf("setting %s (%s): no such setting", key, f.config)
		case given[key] || fromEnv[key]:
			continue
		}
		items, isList := value.([]any)
		if _, list := fl.Value.(*multiFlag); list && isList {
			for _, item := range items {
				if err := set(key, fmt.Sprint(item), f.config); err != nil {
					return err
				}
			}
			continue
		}
		if isList {
			return fmt.Errorf("setting %s (%s): takes one value, not a list", key, f.config)
		}
		if err := set(key, fmt.Sprint(value), f.config); err != nil {
			return err
		}
	}
	return nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newServeFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "accesstoken serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := resolveSettings(fs, f); err != nil {
		fmt.Fprintf(stderr, "accesstoken serve: %v\n", err)
		return exitUsage
	}
	if err := f.serve(ctx, stderr); err != nil {
		fmt.Fprintf(stderr, "accesstoken serve: %v\n", err)
		var cfgErr configError
		if errors.As(err, &cfgErr) {
			return exitUsage
		}
		return exitUnavailable
	}
	return exitOK
}

// configError is a configuration the server cannot start with: exit 2.
type configError struct{ error }

func (f *serveFlags) serve(ctx context.Context, log io.Writer) error {
	switch {
	case f.httpAddr == "" && f.grpcAddr == "":
		return configError{errors.New("setting http, grpc: neither is set, so nothing would be served")}
	case f.check.at != "":
		return configError{errors.New("setting at: a server judges tokens as of now")}
	case f.check.jwksFile != "" && f.introEndpoint != "":
		return configError{errors.New("setting jwks-file: with static keys set introspection-endpoint to a URL, not discovery")}
	case f.dpopNonces && !f.dpop:
		return configError{errors.New("setting dpop-nonces: needs dpop")}
	case len(f.rules.paths) > 0 && f.httpAddr != "" && len(f.proxies) == 0:
		return configError{errors.New("setting path_scopes: ForwardAuth learns the original path only from a trusted-proxy; without one every request would need every path's scopes")}
	}
	if err := f.signals.check(f.httpAddr); err != nil {
		return configError{err}
	}
	minter, jwks, err := f.txn.minter()
	if err != nil {
		return configError{err}
	}
	var decryption *accesstoken.DecryptionConfig
	if f.decryptionKeys != "" {
		keys, err := readPrivateJWKS(f.decryptionKeys)
		if err != nil {
			return configError{fmt.Errorf("setting decryption-keys: %v", err)}
		}
		decryption = &accesstoken.DecryptionConfig{Keys: keys}
	}
	var store accesstoken.Store
	if f.redisURL != "" {
		opt, err := redis.ParseURL(f.redisURL)
		if err != nil {
			return configError{fmt.Errorf("setting redis: %v", err)}
		}
		opt.ContextTimeoutEnabled = true
		client := redis.NewClient(opt)
		defer client.Close()
		store = redisstore.New(client, f.redisPref)
	}
	revocationStore := store
	if revocationStore == nil && f.signals.transmitter != "" {
		revocationStore = accesstoken.NewMemoryStore() // one replica: events revoke in this process
	}
	lists := map[string]*accesstoken.Revocations{}
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	observer := otelaccesstoken.NewObserver(otelaccesstoken.WithMeterProvider(mp))

	introspection := 0
	v, err := f.check.build(ctx, "", &http.Client{}, func(c *accesstoken.Config) {
		c.Observer = observer
		c.FetchTimeout = f.check.timeout
		c.Decryption = decryption
		if f.dpop {
			c.DPoP = &accesstoken.DPoPConfig{Nonces: f.dpopNonces}
			if store != nil {
				c.DPoP.Replay = accesstoken.NewReplayCache(store)
			}
		}
		if f.introEndpoint != "" && introspection == 0 {
			introspection++ // one issuer at most: an opaque token names none
			c.Introspection = &accesstoken.IntrospectionConfig{ClientID: f.introClientID, ClientSecret: f.introSecret, Store: store}
			if f.introEndpoint != "discover" {
				c.Introspection.Endpoint = f.introEndpoint
			}
		}
		if revocationStore != nil {
			c.Revocations = accesstoken.NewRevocations(revocationStore)
			lists[c.Issuer] = c.Revocations
		}
	})
	if err != nil {
		return configError{err}
	}
	defer v.Close()

	var push http.Handler
	if f.signals.transmitter != "" {
		var stop func()
		push, stop, err = f.signals.start(ctx, lists, otelaccesstoken.NewSSFObserver(otelaccesstoken.WithMeterProvider(mp)), log)
		if err != nil {
			return err
		}
		defer stop()
	}

	var httpSrv *http.Server
	var grpcSrv *grpc.Server
	errc := make(chan error, 2)
	if f.httpAddr != "" {
		opts := []httpauth.Option{httpauth.WithRealm(f.realm), httpauth.WithRequiredScopes(f.scopes...), httpauth.WithRequiredRoles(f.roles...)}
		opts = append(opts, f.rules.httpOptions()...)
		if len(f.proxies) > 0 {
			opts = append(opts, httpauth.WithTrustedProxies(f.proxies...))
		}
		if minter != nil {
			opts = append(opts, httpauth.WithTransactionToken(minter))
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := v.Refresh(ctx); err != nil {
				http.Error(w, "keys not in hand", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ready\n")
		})
		mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
		if push != nil {
			mux.Handle(f.signals.pushPath, push)
		}
		if jwks != nil {
			mux.Handle("GET /.well-known/jwks.json", jwks) // the Transaction Tokens' key, for the services
		}
		mux.Handle("/", httpauth.ForwardAuth(v, opts...))
		lis, err := net.Listen("tcp", f.httpAddr)
		if err != nil {
			return configError{fmt.Errorf("setting http: %v", err)}
		}
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(log, "accesstoken serve: ForwardAuth on http://%s\n", lis.Addr())
		go func() { errc <- httpSrv.Serve(lis) }()
	}
	if f.grpcAddr != "" {
		lis, err := net.Listen("tcp", f.grpcAddr)
		if err != nil {
			if httpSrv != nil {
				httpSrv.Close()
			}
			return configError{fmt.Errorf("setting grpc: %v", err)}
		}
		grpcSrv = grpc.NewServer()
		opts := []extauthz.Option{extauthz.WithRealm(f.realm), extauthz.WithRequiredScopes(f.scopes...), extauthz.WithRequiredRoles(f.roles...)}
		opts = append(opts, f.rules.extauthzOptions()...)
		if f.trustCert {
			opts = append(opts, extauthz.WithTrustedCertificate())
		}
		if minter != nil {
			opts = append(opts, extauthz.WithTransactionToken(minter))
		}
		authv3.RegisterAuthorizationServer(grpcSrv, extauthz.NewServer(v, opts...))
		fmt.Fprintf(log, "accesstoken serve: ext_authz on %s\n", lis.Addr())
		go func() { errc <- grpcSrv.Serve(lis) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	fmt.Fprintln(log, "accesstoken serve: stopping; letting requests under way finish")
	drain, cancel := context.WithTimeout(context.Background(), f.shutdown)
	defer cancel()
	if grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-drain.Done():
			grpcSrv.Stop()
		}
	}
	if httpSrv != nil {
		if err := httpSrv.Shutdown(drain); err != nil {
			return err
		}
	}
	return nil
}

// readPrivateJWKS reads a JWK Set of private keys (RSA, EC) and secrets
// ("oct") by kid, for Config.Decryption.
func readPrivateJWKS(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%s is not a JWK Set: %v", path, err)
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		if k.IsPublic() {
			return nil, fmt.Errorf("%s: key %q is public; decryption needs the private key", path, k.KeyID)
		}
		keys[k.KeyID] = k.Key
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no key", path)
	}
	return keys, nil
}
