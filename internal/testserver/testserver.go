// Package testserver starts the real servers that tests put beside this
// library (Debian's nginx and redis-server) on loopback, each stopped by
// the PID of the process the test started. In CI (CI=true) a missing
// server fails the test, since .ci/run installs them; elsewhere it skips.
package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary finds the first of names on PATH (or as a path), or skips the
// test (fails it in CI).
func Binary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (.ci/run installs it from Debian)", names[0])
	}
	t.Skipf("%s not installed", names[0])
	return ""
}

// FreePort is a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs cmd, stops it when t ends, and waits until ready returns
// true; log is where its output went.
func start(t testing.TB, cmd *exec.Cmd, log string, ready func() bool) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // only the process this test started
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for !ready() {
		select {
		case <-done:
			b, _ := os.ReadFile(log)
			t.Fatalf("%s exited: %s", cmd.Path, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			t.Fatalf("%s was not ready in time: %s", cmd.Path, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Nginx starts nginx with conf, in which {{dir}} is a fresh directory and
// {{port}} the loopback port it must listen on, and returns its base URL.
// conf is the http block's inside: the events block, pid, logs and
// temporary paths are written around it.
func Nginx(t testing.TB, conf string) string {
	t.Helper()
	bin := Binary(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	port := FreePort(t)
	full := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, strings.NewReplacer("{{dir}}", dir, "{{port}}", fmt.Sprint(port)).Replace(conf))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "error.log")
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", log)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, cmd, log, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "http://" + addr
}

// Redis starts redis-server on loopback without persistence and returns
// its address.
func Redis(t testing.TB) string {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	_, port, _ := net.SplitHostPort(addr)
	log := filepath.Join(dir, "redis.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = f, f
	start(t, cmd, log, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		fmt.Fprint(c, "PING\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "+PONG")
	})
	return addr
}
