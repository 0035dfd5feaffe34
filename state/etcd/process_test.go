package etcd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/etcd"
	"github.com/labbroker/broker/test/etcdtest"
)

// The test binary doubles as a helper process (another runner): with
// ETCD_HELPER set it runs one of the helpers below instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("ETCD_HELPER"); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper modes, on the store at ETCD_ENDPOINTS (comma-separated) and
// ETCD_PREFIX:
//
//	lock      take environment "env", say "locked", wait for stdin to close
//	campaign  campaign for "reap", say "leader", wait for stdin to close
//	reserve   reserve a member of pool "pool" (m1…m5), say which or "exhausted"
func helper(mode string) error {
	ctx := context.Background()
	s, err := etcd.Open(ctx, etcd.Config{
		Endpoints: strings.Split(os.Getenv("ETCD_ENDPOINTS"), ","),
		Prefix:    os.Getenv("ETCD_PREFIX"),
		LockTTL:   2 * time.Second,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	info := state.LockInfo{PID: os.Getpid(), User: "helper", Machine: "test", Operation: mode, Since: time.Now()}
	switch mode {
	case "lock":
		if _, err := s.Lock(ctx, "env", info, state.LockOptions{}); err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return nil
	case "campaign":
		if _, err := s.Campaign(ctx, "reap", info); err != nil {
			return err
		}
		fmt.Println("leader")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return nil
	case "reserve":
		// Wait for the go signal so that every helper reserves at once.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		m, err := s.Reserve(ctx, "pool", []string{"m1", "m2", "m3", "m4", "m5"}, fmt.Sprintf("pid-%d", os.Getpid()))
		if errors.Is(err, state.ErrPoolExhausted) {
			fmt.Println("exhausted")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(m)
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, mode string, c *etcdtest.Cluster, prefix string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ETCD_HELPER="+mode,
		"ETCD_ENDPOINTS="+strings.Join(c.Endpoints(), ","), "ETCD_PREFIX="+prefix)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &helperProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
}

func (p *helperProc) line(t *testing.T) string {
	t.Helper()
	l, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("helper %d: %v", p.cmd.Process.Pid, err)
	}
	return strings.TrimSpace(l)
}

func (p *helperProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// A runner SIGKILLed while holding a lock stops renewing its session; the
// next runner, waiting, gets the lock once the lease (2s) runs out, having
// been told who held it.
func TestLockHolderKilled(t *testing.T) {
	c := etcdtest.Start(t)
	s := open(t, c)
	defer s.Close()
	h := startHelper(t, "lock", c, s.Prefix())
	if got := h.line(t); got != "locked" {
		t.Fatalf("helper said %q", got)
	}
	ctx := context.Background()
	// Held: a second runner is refused at once, naming the holder.
	_, err := s.Lock(ctx, "env", state.LockInfo{Operation: "apply"}, state.LockOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.PID != h.cmd.Process.Pid || le.Holder.Operation != "lock" {
		t.Fatalf("Lock while held = %v, want *LockedError naming pid %d", err, h.cmd.Process.Pid)
	}

	waiting := make(chan state.LockInfo, 1)
	got := make(chan error, 1)
	var u state.Unlocker
	go func() {
		var err error
		u, err = s.Lock(ctx, "env", state.LockInfo{Operation: "apply"}, state.LockOptions{
			Timeout: time.Minute, // a failure bound: the lease is 2s
			OnWait:  func(h state.LockInfo) { waiting <- h },
		})
		got <- err
	}()
	if holder := <-waiting; holder.PID != h.cmd.Process.Pid {
		t.Errorf("OnWait holder pid %d, want %d", holder.PID, h.cmd.Process.Pid)
	}
	h.kill(t)
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	if info, held, err := s.LockHolder(ctx, "env"); err != nil || !held || info.Operation != "apply" {
		t.Errorf("LockHolder = %+v, %v, %v; want this runner's apply", info, held, err)
	}
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, held, err := s.LockHolder(ctx, "env"); err != nil || held {
		t.Errorf("lock still held after Unlock (%v)", err)
	}
}

// Force-unlock revokes the holder's session: the lock is free at once,
// and the holder learns it lost the lock.
func TestForceUnlock(t *testing.T) {
	c := etcdtest.Start(t)
	s := open(t, c)
	defer s.Close()
	ctx := context.Background()
	u, err := s.Lock(ctx, "env", state.LockInfo{Operation: "apply", PID: 7}, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, held, err := s.ForceUnlock(ctx, "env")
	if err != nil || !held || info.PID != 7 {
		t.Fatalf("ForceUnlock = %+v, %v, %v", info, held, err)
	}
	<-u.(interface{ Lost() <-chan struct{} }).Lost()
	u2, err := s.Lock(ctx, "env", state.LockInfo{Operation: "apply"}, state.LockOptions{})
	if err != nil {
		t.Fatalf("Lock after force-unlock: %v", err)
	}
	_ = u.Unlock() // the old holder's unlock must not free the new lock
	if _, err := s.Lock(ctx, "env", state.LockInfo{}, state.LockOptions{}); !errors.As(err, new(*state.LockedError)) {
		t.Errorf("Lock after a stale Unlock = %v, want *LockedError", err)
	}
	_ = u2.Unlock()
}

// Leader election across processes: the first campaigner leads; when it
// is SIGKILLed, the second takes over once the lease runs out.
func TestLeaderKilled(t *testing.T) {
	c := etcdtest.Start(t)
	s := open(t, c)
	defer s.Close()
	ctx := context.Background()
	first := startHelper(t, "campaign", c, s.Prefix())
	if got := first.line(t); got != "leader" {
		t.Fatalf("first campaigner said %q", got)
	}
	second := startHelper(t, "campaign", c, s.Prefix())
	info, ok, err := s.Leader(ctx, "reap")
	if err != nil || !ok || info.PID != first.cmd.Process.Pid {
		t.Fatalf("Leader = %+v, %v, %v; want pid %d", info, ok, err, first.cmd.Process.Pid)
	}
	first.kill(t)
	if got := second.line(t); got != "leader" {
		t.Fatalf("second campaigner said %q", got)
	}
	info, ok, err = s.Leader(ctx, "reap")
	if err != nil || !ok || info.PID != second.cmd.Process.Pid {
		t.Fatalf("Leader after fail-over = %+v, %v, %v; want pid %d", info, ok, err, second.cmd.Process.Pid)
	}
}

// In-process election: Done closes when the session ends, Resign hands
// over.
func TestElectionResign(t *testing.T) {
	c := etcdtest.Start(t)
	a := open(t, c)
	defer a.Close()
	b, err := etcd.Open(context.Background(), etcd.Config{Endpoints: c.Endpoints(), Prefix: a.Prefix(), LockTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	la, err := a.Campaign(ctx, "reap", state.LockInfo{Operation: "a"})
	if err != nil {
		t.Fatal(err)
	}
	won := make(chan state.Leadership, 1)
	go func() {
		l, err := b.Campaign(ctx, "reap", state.LockInfo{Operation: "b"})
		if err != nil {
			t.Error(err)
		}
		won <- l
	}()
	if err := la.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	<-la.Done()
	lb := <-won
	if info, ok, _ := a.Leader(ctx, "reap"); !ok || info.Operation != "b" {
		t.Errorf("Leader after resign = %+v, %v", info, ok)
	}
	// Revoking b's lease (what expiry does) closes its Done.
	resp, err := b.Client().Get(ctx, b.Prefix()+"/elections/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("election keys: %v, %v", resp, err)
	}
	if _, err := b.Client().Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	<-lb.Done()
	if _, ok, _ := a.Leader(ctx, "reap"); ok {
		t.Error("a leader after the session ended")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Campaign(cctx, "reap", state.LockInfo{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Campaign with a cancelled context = %v", err)
	}
}

// Ten runners in separate processes reserve from a pool of five: exactly
// five succeed, each with a different member.
func TestReserveAcrossProcesses(t *testing.T) {
	c := etcdtest.Start(t)
	s := open(t, c)
	defer s.Close()
	var hs []*helperProc
	for range 10 {
		hs = append(hs, startHelper(t, "reserve", c, s.Prefix()))
	}
	for _, h := range hs {
		fmt.Fprintln(h.stdin, "go")
	}
	var members []string
	exhausted := 0
	for _, h := range hs {
		switch got := h.line(t); got {
		case "exhausted":
			exhausted++
		default:
			members = append(members, got)
		}
	}
	sort.Strings(members)
	if diff := cmp.Diff([]string{"m1", "m2", "m3", "m4", "m5"}, members); diff != "" {
		t.Errorf("reserved members (-want +got):\n%s", diff)
	}
	if exhausted != 5 {
		t.Errorf("%d runners found the pool exhausted, want 5", exhausted)
	}
	res, err := s.Reservations(context.Background(), "pool")
	if err != nil || len(res) != 5 {
		t.Errorf("Reservations = %v, %v", res, err)
	}
}

// Ten goroutines with separate clients reserve from a pool of five.
func TestReserveSeparateClients(t *testing.T) {
	c := etcdtest.Start(t)
	first := open(t, c)
	defer first.Close()
	var wg sync.WaitGroup
	results := make(chan string, 10)
	for i := range 10 {
		s, err := etcd.Open(context.Background(), etcd.Config{Endpoints: c.Endpoints(), Prefix: first.Prefix()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wg.Go(func() {
			m, err := s.Reserve(context.Background(), "pool", []string{"m1", "m2", "m3", "m4", "m5"}, fmt.Sprint(i))
			switch {
			case errors.Is(err, state.ErrPoolExhausted):
				results <- "exhausted"
			case err != nil:
				t.Error(err)
				results <- "error"
			default:
				results <- m
			}
		})
	}
	wg.Wait()
	close(results)
	count := map[string]int{}
	for r := range results {
		count[r]++
	}
	want := map[string]int{"m1": 1, "m2": 1, "m3": 1, "m4": 1, "m5": 1, "exhausted": 5}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
