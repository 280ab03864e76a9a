package nginx

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	echo4 "github.com/labstack/echo/v4"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/middleware/echoauth"
	"github.com/tokenguard/accesstoken/middleware/httpauth"
	"github.com/tokenguard/accesstoken/txntoken"
)

// txnConfig: nginx asks the built `accesstoken serve` (ForwardAuth) and
// forwards only the Transaction Token it minted, in place of whatever
// Txn-Token the client sent; /a/ goes to a net/http service, /b/ to an
// echo one.
const txnConfig = `
	server {
		listen 127.0.0.1:{{port}};
		location = /_auth { internal; proxy_pass http://{{auth}}/auth; include {{dir}}/subrequest.conf; proxy_set_header X-Forwarded-For $remote_addr; }
		location /a/ { auth_request /_auth; auth_request_set $txn_token $upstream_http_txn_token; proxy_set_header Txn-Token $txn_token; include {{dir}}/forward.conf; }
		location /b/ { auth_request /_auth; auth_request_set $txn_token $upstream_http_txn_token; proxy_set_header Txn-Token $txn_token; include {{dir}}/forward.conf; }
		location @unauthorized { add_header WWW-Authenticate $auth_challenge always; return 401; }
		location @forbidden    { add_header WWW-Authenticate $auth_challenge always; return 403; }
		location @unavailable  { return 503; }
	}
`

// buildServe builds the accesstoken command from its own module.
func buildServe(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "accesstoken")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../../cmd/accesstoken"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building accesstoken: %v\n%s", err, out)
	}
	return bin
}

// runServe starts the binary and returns the address of its HTTP listener.
func runServe(t *testing.T, bin string, args ...string) string {
	cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "accesstoken serve: ForwardAuth on http://"); ok {
				addr <- a
			}
		}
		close(done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-done; cmd.Wait() }) // only the process this test started
	select {
	case a := <-addr:
		return a
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

// TestNginxTransactionTokens: the caller's access token is checked once, at
// the edge (nginx and the built serve); the two services behind, written
// with two adapters (httpauth, echoauth), each verify the Transaction Token
// serve minted, and see the caller whatever headers the caller sent. A
// token the services' trust domain did not mint — forged with another key,
// or minted for another trust domain with the same key — is refused by
// both.
func TestNginxTransactionTokens(t *testing.T) {
	as := accesstokentest.NewServer()
	defer as.Close()
	bin := buildServe(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "edge-1"})
	keyFile := filepath.Join(dir, "txn.jwk")
	if err := os.WriteFile(keyFile, jwk, 0o600); err != nil {
		t.Fatal(err)
	}
	auth := runServe(t, bin, "--issuer", as.Issuer(), "--audience", as.Audience(), "--trusted-proxy", "127.0.0.1",
		"--txn-token-audience", "orders.internal", "--txn-token-key", keyFile, "--txn-token-issuer", "https://edge.example.com")
	// Another gateway, another trust domain, the same key (a shared key is
	// the mistake this guards against): its tokens must not work here.
	other := runServe(t, bin, "--issuer", as.Issuer(), "--audience", as.Audience(),
		"--txn-token-audience", "payments.internal", "--txn-token-key", keyFile, "--txn-token-issuer", "https://edge.example.com")

	cfg := txntoken.Config("https://edge.example.com", "orders.internal")
	cfg.JWKSURL = "http://" + auth + "/.well-known/jwks.json"
	cfg.StrictStart = true
	verifier, err := accesstoken.NewValidator(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	type seen struct{ Subject, Txn, Path, IP string }
	report := func(c *accesstoken.Claims) seen {
		x, _ := txntoken.Decode(c)
		return seen{c.Subject, x.Txn, x.RequestContext.Path, x.RequestContext.IP}
	}
	serviceA := httptest.NewServer(httpauth.Middleware(verifier, httpauth.WithTokenHeader(txntoken.Header))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := accesstoken.FromContext(r.Context())
		json.NewEncoder(w).Encode(report(c))
	})))
	defer serviceA.Close()
	e := echo4.New()
	e.Use(echoauth.Middleware(verifier, echoauth.WithTokenHeader(txntoken.Header)))
	e.GET("/b/*", func(ec echo4.Context) error {
		c, _ := accesstoken.FromContext(ec.Request().Context())
		return ec.JSON(200, report(c))
	})
	serviceB := httptest.NewServer(e)
	defer serviceB.Close()
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	gwA := startNginxWith(t, strings.Replace(txnConfig, "location /b/", "location /unused/", 1), map[string]string{"auth": auth, "backend": host(serviceA.URL)})
	gwB := startNginxWith(t, strings.Replace(txnConfig, "location /a/", "location /unused/", 1), map[string]string{"auth": auth, "backend": host(serviceB.URL)})

	get := func(url string, h map[string]string) (int, seen) {
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s seen
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &s)
		return resp.StatusCode, s
	}
	access := as.Token(map[string]any{"sub": "alice", "scope": "orders:read"})
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forgedSigner, _ := txntoken.NewSigner(txntoken.SignerConfig{Key: forger, KeyID: "edge-1", TrustDomain: "orders.internal", Issuer: "https://edge.example.com"})
	forged, _ := forgedSigner.Mint(context.Background(), txntoken.Request{Claims: &accesstoken.Claims{Subject: "admin", Scopes: []string{"orders:read"}}})
	otherDomain := fetchTxn(t, "http://"+other+"/auth", access)
	hostile := map[string]string{"Authorization": "Bearer " + access, "Txn-Token": forged, "X-Auth-Subject": "admin"}

	var txns []string
	for name, url := range map[string]string{"net/http service": gwA + "/a/orders/1", "echo service": gwB + "/b/orders/1"} {
		code, s := get(url, hostile)
		if code != 200 || s.Subject != "alice" || s.Path != "/"+strings.SplitN(url, "/", 4)[3] || s.IP != "127.0.0.1" || s.Txn == "" {
			t.Fatalf("%s behind nginx: %d %+v", name, code, s)
		}
		txns = append(txns, s.Txn)
		if code, _ := get(url, map[string]string{"Authorization": "Bearer garbage", "Txn-Token": forged}); code != 401 {
			t.Fatalf("%s: a refused access token with a forged Txn-Token got %d", name, code)
		}
	}
	if txns[0] == txns[1] {
		t.Fatal("two requests, one transaction")
	}
	// Straight to the services, past the gateway: only their own trust
	// domain's tokens pass.
	for name, base := range map[string]string{"net/http service": serviceA.URL + "/a/x", "echo service": serviceB.URL + "/b/x"} {
		for what, tok := range map[string]string{"forged with another key": forged, "minted for payments.internal": otherDomain, "the access token itself": access} {
			if code, _ := get(base, map[string]string{"Txn-Token": tok}); code != 401 {
				t.Errorf("%s, %s: %d", name, what, code)
			}
		}
		if code, _ := get(base, map[string]string{"Authorization": "Bearer " + access, "X-Auth-Subject": "alice"}); code != 401 {
			t.Errorf("%s: identity headers and an access token without a Txn-Token got %d", name, code)
		}
	}
}

// fetchTxn asks a serve's ForwardAuth directly and returns the Txn-Token it
// minted.
func fetchTxn(t *testing.T, url, access string) string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := resp.Header.Get("Txn-Token")
	if resp.StatusCode != 200 || tok == "" {
		t.Fatalf("the other gateway: %d, no token", resp.StatusCode)
	}
	return tok
}
