package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/labbroker/broker/providers/sim"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/test/etcdtest"
)

// Many workers, one environment: parallel test workers (pytest-xdist, CI
// jobs) check out of one environment at once, each a broker process.

// slowSim declares sim.slow, whose checkouts stay in the provider call for
// an hour: a test holds an imperative checkout in flight with it; and
// sim.fast.
const slowSim = `
provider "sim" "slow" {
  latency = "2h"
}
provider "sim" "fast" {
  default = true
}
`

// stateBackend prepares a broker directory in dir for one backend, with
// settings added to broker.hcl, and opens its store for the test to
// inspect (a bbolt Store holds no file between operations).
type stateBackend struct {
	name  string
	setup func(t *testing.T, dir, settings string) state.Store
}

func stateBackends() []stateBackend {
	return []stateBackend{
		{"bolt", func(t *testing.T, dir, settings string) state.Store {
			bdir := filepath.Join(dir, ".broker")
			if err := os.MkdirAll(bdir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(bdir, "broker.hcl"), settings)
			s, err := bolt.Open(filepath.Join(bdir, "state.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"etcd", func(t *testing.T, dir, settings string) state.Store {
			c := etcdtest.Start(t)
			const prefix = "/broker/parallel"
			etcdSettings(t, dir, c, prefix)
			f, err := os.OpenFile(filepath.Join(dir, ".broker", "broker.hcl"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(settings); err != nil {
				t.Fatal(err)
			}
			f.Close()
			return openEtcd(t, c, prefix)
		}},
	}
}

// TestParallelCheckoutsOneEnvironment: twenty broker processes check four
// sim hosts each out of "default" at once, on bbolt and on etcd. None
// fails (none waits for the others' lock), and every host is recorded
// exactly once, with nothing left in flight.
func TestParallelCheckoutsOneEnvironment(t *testing.T) {
	const workers, each = 20, 4
	for _, b := range stateBackends() {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			st := b.setup(t, dir, "")
			var wg sync.WaitGroup
			errs := make(chan string, workers)
			procs := make([]*brokerProc, workers)
			for i := range workers {
				procs[i] = startBroker(t, dir, "checkout", "--provider", "sim", "--count", fmt.Sprint(each))
			}
			for i, p := range procs {
				wg.Go(func() {
					if code, stderr := p.wait(); code != 0 {
						errs <- fmt.Sprintf("worker %d: exit %d: %s", i, code, stderr)
					}
				})
			}
			wg.Wait()
			close(errs)
			failed := 0
			for e := range errs {
				failed++
				t.Error(e)
			}
			if failed > 0 {
				t.Fatalf("%d of %d workers failed", failed, workers)
			}

			s, ctx := st, context.Background()
			hosts, err := s.Hosts(ctx, state.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(hosts) != workers*each {
				t.Errorf("%d records, want %d", len(hosts), workers*each)
			}
			ids, pids := map[string]bool{}, map[string]bool{}
			for _, h := range hosts {
				if h.Environment != "default" || h.Status != state.StatusReady {
					t.Errorf("record %s: environment %q, status %s", h.ID, h.Environment, h.Status)
				}
				if ids[h.ID] || pids[h.ProviderID] {
					t.Errorf("host %s (%s) recorded twice", h.ID, h.ProviderID)
				}
				ids[h.ID], pids[h.ProviderID] = true, true
			}
			if in, err := s.Intents(ctx, ""); err != nil || len(in) != 0 {
				t.Errorf("intents left: %d, %v", len(in), err)
			}
			simHosts, err := sim.Hosts(filepath.Join(dir, ".broker", "sim", "default.db"))
			if err != nil {
				t.Fatal(err)
			}
			if len(simHosts) != len(hosts) {
				t.Errorf("sim holds %d hosts, the state records %d", len(simHosts), len(hosts))
			}
		})
	}
}

// TestCheckoutsProceedSideBySide: while one checkout is in its provider
// call, another checkout, a check-in and an extend in the same
// environment go through without waiting (--lock-timeout 0s).
func TestCheckoutsProceedSideBySide(t *testing.T) {
	for _, b := range stateBackends() {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			b.setup(t, dir, slowSim)
			slow := startBroker(t, dir, "checkout", "--provider", "sim.slow")
			slow.waitLine(t, "checking out")

			for _, args := range [][]string{
				{"checkout", "--provider", "sim.fast", "--count", "2"},
				{"extend", "--all"},
				{"checkin", "--all", "--yes"},
			} {
				code, _, errs := runBroker(t, dir, append(args, "--lock-timeout", "0s")...)
				if code != 0 {
					t.Fatalf("%s while a checkout is in flight: exit %d: %s", strings.Join(args, " "), code, errs)
				}
			}
			select {
			case err := <-slow.done:
				t.Fatalf("the slow checkout ended early (%v): the test proves nothing", err)
			default:
			}
			_ = syscall.Kill(-slow.cmd.Process.Pid, syscall.SIGKILL)
			slow.wait()
		})
	}
}

const sharedManifest = `
environment = "default"
provider "sim" "lab" {}
host "web" {
  provider = "sim.lab"
  count    = 6
  lease    = "1h"
}
`

// TestApplyAndCheckoutsInOneEnvironment: an apply excludes imperative
// checkouts of its environment and they exclude it. An apply refused
// while a checkout is in flight leaves that checkout's intent alone (it is
// not a leftover); an apply and many checkouts started together all
// succeed; the manifest's hosts are each recorded once at their address,
// the checkouts' without one; and destroy removes only the manifest's.
func TestApplyAndCheckoutsInOneEnvironment(t *testing.T) {
	for _, b := range stateBackends() {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			st := b.setup(t, dir, slowSim)
			writeFile(t, filepath.Join(dir, "lab.hcl"), sharedManifest)

			// An apply while a checkout is in flight waits for it; with
			// no time to wait it is refused, naming the checkout.
			slow := startBroker(t, dir, "checkout", "--provider", "sim.slow")
			slow.waitLine(t, "checking out")
			code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--lock-timeout", "0s")
			wantHolder := fmt.Sprintf("checkout (pid %d", slow.cmd.Process.Pid)
			if code != exitLocked || !strings.Contains(errs, wantHolder) || !strings.Contains(errs, "--lock-timeout") {
				t.Fatalf("apply while a checkout is in flight: exit %d, want %d naming %q with a --lock-timeout hint:\n%s", code, exitLocked, wantHolder, errs)
			}
			// A waiting apply says once whom it waits for; checkouts
			// that come after it queue behind it.
			apply := startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
			apply.waitLine(t, "for the lock held by "+wantHolder)
			code, _, errs = runBroker(t, dir, "checkout", "--provider", "sim.fast", "--lock-timeout", "0s")
			if code != exitLocked {
				t.Fatalf("checkout behind a waiting apply: exit %d, want %d:\n%s", code, exitLocked, errs)
			}
			if in, err := st.Intents(context.Background(), "default"); err != nil || len(in) != 1 {
				t.Fatalf("the in-flight checkout's intent: %d intents, %v", len(in), err)
			}
			// The slow checkout dies; its intent stays for reap (it
			// has no address: apply never plans for it).
			_ = syscall.Kill(-slow.cmd.Process.Pid, syscall.SIGKILL)
			slow.wait()
			if code, errs := apply.wait(); code != 0 {
				t.Fatalf("waiting apply: exit %d: %s", code, errs)
			}

			// An apply and eight workers at once: all succeed.
			const workers, each = 8, 3
			procs := []*brokerProc{startBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve", "--replace", "host.web[0]")}
			for range workers {
				procs = append(procs, startBroker(t, dir, "checkout", "--provider", "sim.fast", "--count", fmt.Sprint(each)))
			}
			for i, p := range procs {
				if code, errs := p.wait(); code != 0 {
					t.Errorf("process %d (%s): exit %d: %s", i, strings.Join(p.cmd.Args[1:3], " "), code, errs)
				}
			}
			if t.Failed() {
				return
			}
			hosts := inventory(t, dir)
			addrs := map[string]int{}
			imperative := 0
			for _, h := range hosts {
				if h.Address == "" {
					imperative++
				} else {
					addrs[h.Address]++
				}
			}
			if imperative != workers*each {
				t.Errorf("%d records without an address, want %d", imperative, workers*each)
			}
			for i := range 6 {
				if a := fmt.Sprintf("host.web[%d]", i); addrs[a] != 1 {
					t.Errorf("%s recorded %d times, want once", a, addrs[a])
				}
			}
			if code, _, errs := runBroker(t, dir, "destroy", "-f", "lab.hcl", "--auto-approve"); code != 0 {
				t.Fatalf("destroy: exit %d: %s", code, errs)
			}
			left := inventory(t, dir)
			if len(left) != workers*each {
				t.Errorf("after destroy %d records, want the %d checkouts'", len(left), workers*each)
			}
			for _, h := range left {
				if h.Address != "" {
					t.Errorf("destroy left %s", h.Address)
				}
			}
		})
	}
}
