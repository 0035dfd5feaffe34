package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/etcd"
	"github.com/labbroker/broker/test/etcdtest"
)

// A 3-member cluster loses its leader in the middle of a stream of writes
// from several writers: the client fails over and every write lands.
func TestMemberLostDuringWrites(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	s := open(t, c, func(cfg *etcd.Config) { cfg.RequestTimeout = 30 * time.Second })
	defer s.Close()
	ctx := context.Background()

	leader := -1
	for i, m := range c.Members {
		st, err := s.Client().Status(ctx, m.ClientURL)
		if err == nil && st.Leader == st.Header.MemberId {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader found")
	}

	const writers, perWriter = 4, 60
	var written atomic.Int64
	killAt := int64(writers * perWriter / 3)
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				h := state.Host{ID: fmt.Sprintf("w%d-%03d", w, i), Environment: "stream", Provider: "sim"}
				if err := s.Put(ctx, h); err != nil {
					errs <- fmt.Errorf("put %s: %w", h.ID, err)
				}
				if written.Add(1) == killAt {
					once.Do(func() {
						c.Members[leader].Kill(t)
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case <-killed:
	default:
		t.Fatal("the member was never killed: the test proves nothing")
	}
	hosts, err := s.Hosts(ctx, state.Query{Environment: "stream"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != writers*perWriter {
		t.Errorf("%d records after the stream, want %d", len(hosts), writers*perWriter)
	}
	// Every write call bumped the serial at least once (a write retried
	// after an answer lost with the member may count twice).
	if n, err := s.Serial(ctx, "stream"); err != nil || n < writers*perWriter {
		t.Errorf("Serial = %d, %v; want at least %d", n, err, writers*perWriter)
	}
}

// With two of three members gone there is no quorum: operations fail
// after the request timeout with an error naming the endpoints and a hint.
func TestQuorumLost(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	s := open(t, c, func(cfg *etcd.Config) { cfg.RequestTimeout = 2 * time.Second })
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, state.Host{ID: "before", Environment: "e"}); err != nil {
		t.Fatal(err)
	}
	c.Members[1].Kill(t)
	c.Members[2].Kill(t)

	checks := map[string]error{}
	checks["put"] = s.Put(ctx, state.Host{ID: "after", Environment: "e"})
	_, checks["hosts"] = s.Hosts(ctx, state.Query{})
	_, checks["lock"] = s.Lock(ctx, "e", state.LockInfo{}, state.LockOptions{})
	for name, err := range checks {
		var ee *etcd.Error
		if !errors.As(err, &ee) {
			t.Errorf("%s without quorum = %v, want *etcd.Error", name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.Members[0].ClientURL) {
			t.Errorf("%s: error does not name the endpoints: %v", name, err)
		}
		if !strings.Contains(ee.Hint(), "state.endpoints") {
			t.Errorf("%s: hint %q", name, ee.Hint())
		}
	}

	// Quorum back: what was written before is there; the failed write is
	// not, and a retry lands.
	c.Members[1].Restart(t)
	if err := s.Put(ctx, state.Host{ID: "after", Environment: "e"}); err != nil {
		t.Fatalf("put after quorum is back: %v", err)
	}
	hosts, err := s.Hosts(ctx, state.Query{})
	if err != nil || len(hosts) != 2 {
		t.Errorf("hosts after recovery = %d, %v", len(hosts), err)
	}
}

// Nothing listens at the endpoint: Open fails within the dial timeout with
// an error naming it.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	_, err = etcd.Open(context.Background(), etcd.Config{Endpoints: []string{addr}, DialTimeout: time.Second})
	var ee *etcd.Error
	if !errors.As(err, &ee) {
		t.Fatalf("Open of a closed port = %v, want *etcd.Error", err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(ee.Hint(), "is etcd running?") {
		t.Errorf("error %q, hint %q", err, ee.Hint())
	}
	if _, err := etcd.Open(context.Background(), etcd.Config{}); err == nil {
		t.Error("Open without endpoints succeeded")
	}
}

// An etcd with authentication: the right user gets in, a wrong password
// gets an error whose hint points at the credentials.
func TestAuth(t *testing.T) {
	c := etcdtest.Start(t)
	admin := open(t, c)
	ctx := context.Background()
	cli := admin.Client()
	for _, step := range []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()

	s, err := etcd.Open(ctx, etcd.Config{Endpoints: c.Endpoints(), Prefix: "/auth", Username: "root", Password: "rootpw"})
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	if err := s.Put(ctx, state.Host{ID: "1", Environment: "e"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err = etcd.Open(ctx, etcd.Config{Endpoints: c.Endpoints(), Prefix: "/auth", Username: "root", Password: "wrong"})
	var ee *etcd.Error
	if !errors.As(err, &ee) || !strings.Contains(ee.Hint(), "state.username") {
		t.Errorf("Open with a wrong password = %v (hint %q)", err, hintOf(ee))
	}
}

func hintOf(e *etcd.Error) string {
	if e == nil {
		return ""
	}
	return e.Hint()
}
