package etcd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/etcd"
	"github.com/labbroker/broker/state/statetest"
	"github.com/labbroker/broker/test/etcdtest"
)

var prefixes atomic.Int64

// open connects a new client to c under a prefix of its own, so that tests
// sharing one cluster do not see each other's keys.
func open(t testing.TB, c *etcdtest.Cluster, tweak ...func(*etcd.Config)) *etcd.Store {
	t.Helper()
	cfg := etcd.Config{
		Endpoints: c.Endpoints(),
		Prefix:    fmt.Sprintf("/test/%s/%d", t.Name(), prefixes.Add(1)),
		LockTTL:   2 * time.Second,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := etcd.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	c := etcdtest.Start(t)
	statetest.Run(t, func(t *testing.T) state.Store { return open(t, c) })
}

func TestSuiteBatched(t *testing.T) {
	c := etcdtest.Start(t)
	statetest.Run(t, func(t *testing.T) state.Store { return state.NewBatcher(open(t, c)) })
}

// With a tiny operation limit every batch is split into many Txns; the
// suite must still hold.
func TestSuiteSplitTxns(t *testing.T) {
	c := etcdtest.Start(t)
	statetest.Run(t, func(t *testing.T) state.Store {
		return state.NewBatcher(open(t, c, func(cfg *etcd.Config) { cfg.MaxTxnOps = 4 }))
	})
}

// Copy between the two backends, both ways: bolt → etcd carries serials
// over, etcd → bolt does not (bolt counts its own).
func TestCopy(t *testing.T) {
	c := etcdtest.Start(t)
	openEtcd := func(t *testing.T) state.Store { return open(t, c) }
	openBolt := func(t *testing.T) state.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("BoltToEtcd", func(t *testing.T) { statetest.RunCopy(t, openBolt, openEtcd) })
	t.Run("EtcdToBolt", func(t *testing.T) { statetest.RunCopy(t, openEtcd, openBolt) })
	t.Run("EtcdToEtcd", func(t *testing.T) { statetest.RunCopy(t, openEtcd, openEtcd) })
}

// A prefix keeps its identity across clients; another prefix has another.
func TestIdentityPersists(t *testing.T) {
	c := etcdtest.Start(t)
	ctx := context.Background()
	a := open(t, c)
	defer a.Close()
	first, err := a.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, c, func(cfg *etcd.Config) { cfg.Prefix = a.Prefix() })
	defer b.Close()
	again, err := b.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || again != first {
		t.Errorf("identity %q, from another client %q", first, again)
	}
	other := open(t, c)
	defer other.Close()
	if id, err := other.Identity(ctx); err != nil || id == first {
		t.Errorf("another prefix: identity %q, %v; want one of its own", id, err)
	}
}
