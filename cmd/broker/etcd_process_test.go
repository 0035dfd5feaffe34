package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/labbroker/broker/providers/sim"
	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/etcd"
	"github.com/labbroker/broker/test/etcdtest"
)

// etcdSettings points a broker directory at the cluster.
func etcdSettings(t *testing.T, dir string, c *etcdtest.Cluster, prefix string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, ".broker"), 0o700); err != nil {
		t.Fatal(err)
	}
	eps, _ := json.Marshal(c.Endpoints())
	writeFile(t, filepath.Join(dir, ".broker", "broker.hcl"), fmt.Sprintf(`
state {
  backend   = "etcd"
  endpoints = %s
  prefix    = %q
  lock_ttl  = "2s"
}
`, eps, prefix))
}

func openEtcd(t *testing.T, c *etcdtest.Cluster, prefix string) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(context.Background(), etcd.Config{Endpoints: c.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Twenty runners share one etcd: each checks out 10 sim hosts into the
// environment "shared" and 10 into its own, as separate broker processes,
// all at once. No record is lost or duplicated, and the shared
// environment's serial counts every write. (The shared environment's
// checkouts run side by side: they hold its lock shared.)
func TestEtcdTwentyRunners(t *testing.T) {
	c := etcdtest.Start(t)
	dir := t.TempDir()
	const prefix = "/broker/twenty"
	etcdSettings(t, dir, c, prefix)
	s := openEtcd(t, c, prefix)
	ctx := context.Background()

	// Watch the shared environment's records and serial from now on.
	start, err := s.Client().Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch := s.Client().Watch(wctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1))

	const runners, each = 20, 10
	var wg sync.WaitGroup
	errs := make(chan string, 2*runners)
	for i := range runners {
		wg.Go(func() {
			out := filepath.Join(dir, fmt.Sprintf("shared-%02d.json", i))
			code, _, stderr := runBroker(t, dir, "--output-file", out, "checkout", "--provider", "sim",
				"--count", fmt.Sprint(each), "-e", "shared", "--lock-timeout", "0s")
			if code != 0 {
				errs <- fmt.Sprintf("runner %d shared checkout: exit %d: %s", i, code, stderr)
			}
			code, _, stderr = runBroker(t, dir, "checkout", "--provider", "sim",
				"--count", fmt.Sprint(each), "-e", fmt.Sprintf("own-%02d", i))
			if code != 0 {
				errs <- fmt.Sprintf("runner %d own checkout: exit %d: %s", i, code, stderr)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}

	// Each environment holds exactly its hosts, none twice.
	all, err := s.Hosts(ctx, state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	providerIDs := map[string]bool{}
	for _, h := range all {
		count[h.Environment]++
		if providerIDs[h.ProviderID] {
			t.Errorf("provider id %s recorded twice", h.ProviderID)
		}
		providerIDs[h.ProviderID] = true
	}
	want := map[string]int{"shared": runners * each}
	for i := range runners {
		want[fmt.Sprintf("own-%02d", i)] = each
	}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("records per environment (-want +got):\n%s", diff)
	}
	simHosts, err := sim.Hosts(filepath.Join(dir, ".broker", "sim", "default.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(simHosts) != len(all) {
		t.Errorf("sim holds %d hosts, the state records %d", len(simHosts), len(all))
	}
	if in, err := s.Intents(ctx, ""); err != nil || len(in) != 0 {
		t.Errorf("intents left: %d, %v", len(in), err)
	}

	// Which runner made which shared host, from their --output-file.
	owner := map[string]int{}
	for i := range runners {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("shared-%02d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Hosts []struct{ ID string } }
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("runner %d output: %v", i, err)
		}
		for _, h := range doc.Hosts {
			owner[h.ID] = i
		}
	}

	// Replay etcd's history of the shared environment up to the current
	// revision: record writes, serial bumps.
	serialKey := prefix + "/env/shared/serial"
	now, err := s.Client().Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	var sequence []int // runner of each shared host write, in revision order
	bumps := 0
	for resp := range watch {
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
		done := false
		for _, ev := range resp.Events {
			if ev.Kv.ModRevision > now.Header.Revision {
				done = true
				break
			}
			key := string(ev.Kv.Key)
			switch {
			case key == serialKey:
				bumps++
			case strings.HasPrefix(key, prefix+"/hosts/") && ev.Type == clientv3.EventTypePut:
				var h state.Host
				if err := json.Unmarshal(ev.Kv.Value, &h); err != nil {
					t.Fatal(err)
				}
				if h.Environment == "shared" {
					r, ok := owner[h.ID]
					if !ok {
						t.Fatalf("host %s in no runner's output", h.ID)
					}
					sequence = append(sequence, r)
				}
			}
		}
		if done || resp.Header.Revision >= now.Header.Revision {
			break
		}
	}
	if len(sequence) < runners*each {
		t.Errorf("%d shared host writes seen, want at least %d", len(sequence), runners*each)
	}
	serial, err := s.Serial(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if serial != uint64(bumps) || bumps < runners {
		t.Errorf("shared serial %d, %d write transactions seen", serial, bumps)
	}
	t.Logf("%d shared host writes, serial %d", len(sequence), serial)
}

// The CLI picks etcd from broker.hcl: apply records there, a second
// apply of the same environment is refused naming the holder, and the
// state subcommands list, show, rm, unlock and migrate.
func TestEtcdCLI(t *testing.T) {
	c := etcdtest.Start(t)
	dir := t.TempDir()
	const prefix = "/broker/cli"
	etcdSettings(t, dir, c, prefix)
	writeFile(t, filepath.Join(dir, "lab.hcl"), fmt.Sprintf(lockManifest, "lab", "0s"))

	code, _, errs := runBroker(t, dir, "apply", "-f", "lab.hcl", "--auto-approve")
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	s := openEtcd(t, c, prefix)
	ctx := context.Background()
	hosts, err := s.Hosts(ctx, state.Query{Environment: "lab"})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("etcd holds %d hosts of lab (%v), want 1", len(hosts), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".broker", "state.db")); err == nil {
		t.Errorf("a state.db was written although the settings say etcd")
	}

	// A running checkout holds the lock in etcd.
	writeFile(t, filepath.Join(dir, "held.hcl"), fmt.Sprintf(lockManifest, "held", "1h"))
	hold := startBroker(t, dir, "apply", "-f", "held.hcl", "--auto-approve")
	hold.waitLine(t, "checking out")
	code, _, errs = runBroker(t, dir, "checkout", "--provider", "sim", "-e", "held", "--lock-timeout", "0s")
	if code != exitLocked || !strings.Contains(errs, fmt.Sprintf("pid %d", hold.cmd.Process.Pid)) {
		t.Errorf("checkout of a held environment: exit %d, stderr:\n%s", code, errs)
	}

	// list shows the holder; unlock breaks the lock; the holder dies of it
	// or is killed, and the lock is free.
	code, out, errs := runState(t, dir, "list")
	if code != 0 || !strings.Contains(out, "held") || !strings.Contains(out, "apply (pid") {
		t.Errorf("state list: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runState(t, dir, "unlock", "held")
	if code != exitError || !strings.Contains(out, `Environment "held" is locked by apply (pid`) || !strings.Contains(errs, "pass --yes to break it") {
		t.Errorf("state unlock without --yes and no terminal: exit %d\n%s%s", code, out, errs)
	}
	if _, held, _ := s.LockHolder(ctx, "held"); !held {
		t.Errorf("the lock was broken without confirmation")
	}
	code, out, errs = runState(t, dir, "unlock", "held", "--yes")
	if code != 0 || !strings.Contains(out, `Unlocked environment "held"`) {
		t.Errorf("state unlock: exit %d\n%s%s", code, out, errs)
	}
	hold.cmd.Process.Kill()
	hold.wait()
	waitFor(t, func() bool { _, held, _ := s.LockHolder(ctx, "held"); return !held })

	code, out, errs = runState(t, dir, "show", "host.web[0]", "-e", "lab")
	if code != 0 || !strings.Contains(out, `"address": "host.web[0]"`) {
		t.Errorf("state show: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = runState(t, dir, "rm", hosts[0].ID)
	if code != exitError || !strings.Contains(errs, "--yes") {
		t.Errorf("state rm without --yes and no terminal: exit %d: %s", code, errs)
	}

	// migrate etcd -> bolt, then bolt -> a fresh etcd prefix.
	boltPath := filepath.Join(dir, "copy.db")
	code, out, errs = runState(t, dir, "migrate", "--from", "etcd", "--to", "bolt:"+boltPath)
	if code != 0 || !strings.Contains(out, "Copied 1 host records") {
		t.Fatalf("migrate to bolt: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = runState(t, dir, "migrate", "--from", "bolt:"+boltPath, "--to", "etcd")
	if code != exitError || !strings.Contains(errs, "already holds") {
		t.Errorf("migrate into a non-empty etcd: exit %d: %s", code, errs)
	}
	serialBefore, _ := s.Serial(ctx, "lab")
	code, out, errs = runState(t, dir, "migrate", "--from", "bolt:"+boltPath, "--to", "etcd", "--force")
	if code != 0 {
		t.Errorf("migrate --force: exit %d\n%s%s", code, out, errs)
	}
	if n, _ := s.Serial(ctx, "lab"); n < serialBefore {
		t.Errorf("serial went back from %d to %d", serialBefore, n)
	}

	code, out, errs = runState(t, dir, "rm", hosts[0].ID, "--yes")
	if code != 0 || !strings.Contains(out, "NOT checked in") {
		t.Errorf("state rm --yes: exit %d\n%s%s", code, out, errs)
	}
	if _, err := s.Host(ctx, hosts[0].ID); err == nil {
		t.Errorf("record still there after rm")
	}
}

// runState runs `broker state ARGS` in process through a parser that has
// the state command, whether or not the CLI registers it yet.
func runState(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := func(k string) (string, bool) {
		switch k {
		case "BROKER_DIRECTORY":
			return filepath.Join(dir, ".broker"), true
		case "NO_COLOR":
			return "1", true
		}
		return os.LookupEnv(k)
	}
	code := runStateCLI(append([]string{"state"}, args...), &stdout, &stderr, env)
	return code, stdout.String(), stderr.String()
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		<-tick.C
	}
}

// runStateCLI parses and runs args with a command line made of the
// global flags and the state command.
func runStateCLI(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cli struct {
		Globals
		State StateCmd `cmd:""`
	}
	cli.stdin, cli.stdout, cli.stderr, cli.lookupEnv = strings.NewReader(""), stdout, stderr, lookupEnv
	parser, err := kong.New(&cli, kong.Name("broker"), kong.Writers(stdout, stderr),
		kong.Vars{"version": version}, kong.Exit(func(int) {}))
	if err != nil {
		return report(stderr, err, nil)
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return report(stderr, err, nil)
	}
	ctx, stop := newInterruptContext(newConsole(stderr), false)
	defer stop()
	return report(stderr, kctx.Run(&cli.Globals, ctx), nil)
}
