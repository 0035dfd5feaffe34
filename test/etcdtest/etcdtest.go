package etcdtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for a member to become healthy
// before failing the test; it is a failure bound, not a synchronisation.
const startTimeout = 60 * time.Second

// Require skips the test, or fails it when CI=true, unless an etcd binary
// is installed. It returns the binary's path.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("etcd")
	if err != nil {
		skip(t, "etcd is not installed (Debian: apt-get install etcd-server)")
	}
	return path
}

// skip skips the test for a missing component, or fails it in CI.
func skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("etcdtest: %s (CI=true: not skipping)", reason)
	}
	t.Skipf("etcdtest: %s", reason)
}

// Cluster is a set of etcd members forming one cluster.
type Cluster struct {
	Members []*Member
}

// Member is one etcd server process.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:port
	PeerURL   string
	DataDir   string

	bin     string
	cluster string // --initial-cluster
	log     string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process has been waited for.
	exited chan struct{}
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

// Start runs a single-member cluster.
func Start(t testing.TB) *Cluster { t.Helper(); return StartCluster(t, 1) }

// StartCluster runs an n-member cluster on loopback and waits until every
// member is healthy.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Require(t)
	var lastErr error
	// A port picked free may be taken by someone else before etcd binds
	// it; a new set of ports is tried then.
	for attempt := 0; attempt < 3; attempt++ {
		c, err := tryStart(t, bin, n)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("etcdtest: start %d-member cluster: %v", n, lastErr)
	return nil
}

func tryStart(t testing.TB, bin string, n int) (*Cluster, error) {
	base := t.TempDir()
	c := &Cluster{}
	var initial []string
	for i := range n {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
			DataDir:   filepath.Join(base, fmt.Sprintf("m%d", i)),
			bin:       bin,
		}
		m.log = filepath.Join(base, m.Name+".log")
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.cluster = strings.Join(initial, ",")
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.stop()
		}
		if t.Failed() {
			for _, m := range c.Members {
				if raw, err := os.ReadFile(m.log); err == nil {
					t.Logf("etcd member %s log (tail):\n%s", m.Name, tail(string(raw), 40))
				}
			}
		}
	})
	for _, m := range c.Members {
		if err := m.start(); err != nil {
			return nil, err
		}
	}
	for _, m := range c.Members {
		if err := m.waitHealthy(startTimeout); err != nil {
			for _, m := range c.Members {
				m.stop()
			}
			return nil, err
		}
	}
	return c, nil
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin,
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.cluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "etcdtest",
		// Elections within a second keep fail-over tests short.
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", "warn",
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so that a signal to the test's group (Ctrl-C)
	// is not what stops it; Cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start etcd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	m.cmd, m.exited = cmd, exited
	return nil
}

// waitHealthy polls the member's /health until it reports healthy, the
// process exits, or timeout passes.
func (m *Member) waitHealthy(timeout time.Duration) error {
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, _ := m.healthy(client); ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd member %s at %s not healthy after %s; log %s", m.Name, m.ClientURL, timeout, m.log)
		}
		select {
		case <-exited:
			raw, _ := os.ReadFile(m.log)
			return fmt.Errorf("etcd member %s exited: %s", m.Name, tail(string(raw), 10))
		case <-tick.C:
		}
	}
}

func (m *Member) healthy(client *http.Client) (bool, error) {
	resp, err := client.Get(m.ClientURL + "/health")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return false, err
	}
	return h.Health == "true", nil
}

// Kill SIGKILLs the member and waits for it to exit.
func (m *Member) Kill(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart starts a killed member again on its data directory and ports,
// and waits until it is healthy.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.Kill(t)
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	if err := m.waitHealthy(startTimeout); err != nil {
		t.Fatal(err)
	}
}

// PID is the member's process id.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

func (m *Member) stop() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}
