// Package serve holds the README's serve example: config.yaml and the demo
// issuer in mint/. Its test runs them as the README says, from the
// repository's root.
package serve

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeExample(t *testing.T) {
	root, _ := filepath.Abs("../..")
	bin := filepath.Join(t.TempDir(), "accesstoken")
	build := exec.Command("go", "build", "-o", bin, "./cmd/accesstoken")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/accesstoken: %v\n%s", err, out)
	}
	mint := func(args ...string) string {
		cmd := exec.Command("go", append([]string{"run", "./examples/serve/mint"}, args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mint: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	good := mint() // makes the key and jwks.json on first run
	t.Cleanup(func() {
		os.Remove(filepath.Join(root, "examples/serve/jwks.json"))
		os.Remove(filepath.Join(root, "examples/serve/demo-key.pem"))
	})
	// The README's command, on free ports instead of 8080 and 9001.
	cmd := exec.Command(bin, "serve", "--config", "examples/serve/config.yaml", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0")
	cmd.Dir = root
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // only the process this test started
	sc := bufio.NewScanner(stderr)
	var addr string
	deadline := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	for addr == "" && sc.Scan() {
		addr, _ = strings.CutPrefix(sc.Text(), "accesstoken serve: ForwardAuth on ")
	}
	deadline.Stop()
	go io.Copy(io.Discard, stderr)
	if addr == "" {
		t.Fatal("serve did not start")
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{good, 200}, {mint("-scope", "profile"), 403}, {"", 401}} {
		req, _ := http.NewRequest("GET", addr+"/orders", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == 200 && resp.Header.Get("X-Auth-Subject") != "alice" {
			t.Errorf("token %.10q: %d %q, want %d", tc.token, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.want)
		}
	}
}
