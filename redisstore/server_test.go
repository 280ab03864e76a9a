package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server this test started on loopback, stopped by
// its PID only.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// redisBinary finds redis-server, or skips the test (fails it in CI, where
// .ci/run installs it).
func redisBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (.ci/run installs Debian's redis-server)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// freePort returns a loopback port that was free a moment ago, below
// 55536 so that its cluster bus port (+10000) exists too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port >= 55536 {
			continue
		}
		if bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000)); err == nil {
			bus.Close()
			return port
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// startRedis starts redis-server on a free loopback port with no
// persistence, plus extra arguments, and waits until it answers.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	s := &redisServer{t: t, port: freePort(t), dir: t.TempDir()}
	s.args = append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
		"--loglevel", "warning",
	}, extra...)
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(redisBinary(s.t, "redis-server"), s.args...)
	log, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", time.Now().UnixNano())))
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			s.t.Fatalf("redis-server on %s did not answer: %v\n%s", s.addr(), err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server at once (SIGKILL), as a crash does.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server must be able to die
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func (s *redisServer) stop() { s.kill() }

// freeze stops the process (SIGSTOP): connections stay open and nothing
// answers, as with a hung server. thaw resumes it.
func (s *redisServer) freeze() { s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *redisServer) thaw()   { s.cmd.Process.Signal(syscall.SIGCONT) }

// startCluster starts three redis-server masters in cluster mode and joins
// them with redis-cli --cluster create.
func startCluster(t testing.TB) []*redisServer {
	t.Helper()
	cli := redisBinary(t, "redis-cli")
	var nodes []*redisServer
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		n := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		nodes = append(nodes, n)
		addrs = append(addrs, n.addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node sees the cluster as ok.
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ok on %s:\n%s", n.addr(), out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nodes
}

// startSentinel starts a master, a replica of it and one Sentinel watching
// them (quorum 1, the master declared down after 500 ms), all redis-server
// processes on loopback.
func startSentinel(t testing.TB) (master, replica, sentinel *redisServer) {
	t.Helper()
	master = startRedis(t)
	replica = startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	s := &redisServer{t: t, port: freePort(t), dir: t.TempDir()}
	conf := filepath.Join(s.dir, "sentinel.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor accesstoken 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds accesstoken 500\n"+
		"sentinel failover-timeout accesstoken 5000\n", s.port, s.dir, master.port), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.args = []string{conf, "--sentinel"}
	s.start()
	t.Cleanup(s.stop)
	// Wait until the replica has synced, so that a failover has somewhere
	// to go with the data.
	c := redis.NewClient(&redis.Options{Addr: replica.addr()})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, _ := c.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return master, replica, s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync:\n%s", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
