package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/labbroker/broker/state"
)

// The test binary doubles as a helper process: with BOLT_HELPER set, it
// runs one of the helpers below instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("BOLT_HELPER"); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper modes:
//
//	lock  take the environment's lock, say "locked", wait for stdin to close
//	hold  hold the state file in a write transaction, say "holding", wait
//	hosts print the number of host records (for timing a whole process)
//	fill  put BOLT_N hosts in one call
//	write put BOLT_N hosts, one call each, with ids BOLT_PREFIX-NNNN
func helper(mode string) error {
	s, err := Open(os.Getenv("BOLT_PATH"), Options{Holder: state.LockInfo{Operation: "helper-" + mode}})
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch mode {
	case "lock":
		_, err := s.Lock(ctx, "env", state.LockInfo{PID: os.Getpid(), Operation: "helper"}, state.LockOptions{})
		if err != nil {
			return err
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return nil
	case "hold":
		return s.update(func(*bbolt.Tx) error {
			fmt.Println("holding")
			_, _ = io.Copy(io.Discard, os.Stdin)
			return nil
		})
	case "hosts":
		// What `broker plan` reads, as a whole process: time it from the
		// shell (see BenchmarkHosts10k for the in-process number).
		hosts, err := s.Hosts(ctx, state.Query{})
		if err != nil {
			return err
		}
		fmt.Println(len(hosts))
		return nil
	case "fill":
		n, _ := strconv.Atoi(os.Getenv("BOLT_N"))
		hosts := make([]state.Host, n)
		for i := range hosts {
			hosts[i] = state.Host{ID: state.NewID(), Environment: "env", Address: fmt.Sprintf("host.web[%d]", i),
				Provider: "docker", Instance: "local", ProviderID: fmt.Sprintf("%064x", i),
				Hostname: fmt.Sprintf("web-%d.lab.example.com", i), IP: "10.0.0.1", Port: 22,
				Recipe: map[string]any{"image": "rhel9-sshd:latest", "ports": []any{"22"}},
				Facts:  map[string]any{"os": "rhel", "version": "9.4"},
				Labels: map[string]string{"role": "web", "team": "qe"}}
		}
		return s.Put(ctx, hosts...)
	case "write":
		n, _ := strconv.Atoi(os.Getenv("BOLT_N"))
		for i := range n {
			h := state.Host{ID: fmt.Sprintf("%s-%04d", os.Getenv("BOLT_PREFIX"), i), Environment: "env"}
			if err := s.Put(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, mode, path string, env ...string) *helperProc {
	t.Helper()
	return startHelperArgs(t, nil, mode, path, env...)
}

// startHelperArgs starts a helper with args added to its command line.
func startHelperArgs(t *testing.T, args []string, mode, path string, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"BOLT_HELPER=" + mode, "BOLT_PATH=" + path}, env...)...)
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
	p := &helperProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return p
}

// expect reads the helper's next line: the handshake that says it has
// done its part.
func (p *helperProc) expect(t *testing.T, want string) {
	t.Helper()
	line, err := p.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		t.Fatalf("helper said %q, %v; want %q", line, err, want)
	}
}

func tempStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestLockDiesWithProcess(t *testing.T) {
	s, path := tempStore(t)
	ctx := context.Background()
	p := startHelper(t, "lock", path)
	p.expect(t, "locked")

	_, err := s.Lock(ctx, "env", state.LockInfo{Operation: "test"}, state.LockOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while the helper holds it = %v, want *state.LockedError", err)
	}
	if le.Holder.PID != p.cmd.Process.Pid || le.Holder.Operation != "helper" {
		t.Errorf("holder = %+v, want the helper (pid %d)", le.Holder, p.cmd.Process.Pid)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	u, err := s.Lock(ctx, "env", state.LockInfo{Operation: "test"}, state.LockOptions{})
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	if err := u.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestTwoProcessesWriting(t *testing.T) {
	s, path := tempStore(t)
	const n = 60
	a := startHelper(t, "write", path, "BOLT_PREFIX=a", fmt.Sprintf("BOLT_N=%d", n))
	b := startHelper(t, "write", path, "BOLT_PREFIX=b", fmt.Sprintf("BOLT_N=%d", n))
	for _, p := range []*helperProc{a, b} {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	hosts, err := s.Hosts(context.Background(), state.Query{Environment: "env"})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, prefix := range []string{"a", "b"} {
		for i := range n {
			want = append(want, fmt.Sprintf("%s-%04d", prefix, i))
		}
	}
	for _, h := range hosts {
		got = append(got, h.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts written by two processes (-want +got):\n%s", diff)
	}
	serial, err := s.Serial(context.Background(), "env")
	if err != nil || serial != 2*n {
		t.Errorf("Serial = %d, %v; want %d (one per call)", serial, err, 2*n)
	}
}

func TestOpenTimeoutNamesHolder(t *testing.T) {
	_, path := tempStore(t)
	p := startHelper(t, "hold", path)
	p.expect(t, "holding")

	s := &Store{path: path, opts: Options{OpenTimeout: 50_000_000, LockDir: t.TempDir()}}
	_, err := s.Hosts(context.Background(), state.Query{})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Hosts while another process holds the file = %v, want ErrBusy", err)
	}
	for _, want := range []string{
		"another broker process is holding the state file " + path,
		fmt.Sprintf("pid %d", p.cmd.Process.Pid),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_ = p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hosts(context.Background(), state.Query{}); err != nil {
		t.Fatalf("Hosts after the holder let go: %v", err)
	}
}

// The holder note and the busy error name the process (pid, user,
// machine, subcommand) but never quote its command line, which may hold a
// secret given with --var.
func TestHolderNoteHoldsNoCommandLine(t *testing.T) {
	_, path := tempStore(t)
	const secret = "s3cr3t-holder-7f1c"
	p := startHelperArgs(t, []string{"--", "apply", "--var", "password=" + secret}, "hold", path)
	p.expect(t, "holding")

	s := &Store{path: path, opts: Options{OpenTimeout: 50_000_000, LockDir: t.TempDir()}}
	_, err := s.Hosts(context.Background(), state.Query{})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Hosts while another process holds the file = %v, want ErrBusy", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid %d", p.cmd.Process.Pid), "helper-hold", "on " + host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q quotes the holder's command line", err)
	}
	note, err := os.ReadFile(holderPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(note), secret) || strings.Contains(string(note), "--var") {
		t.Errorf("holder note %s holds the command line", note)
	}
	_ = p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Lock(context.Background(), "env", state.LockInfo{}, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Unlock()
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, os.ModeDir | 0o700},
		{path, 0o600},
		{filepath.Join(dir, "locks"), os.ModeDir | 0o700},
		{filepath.Join(dir, "locks", LockFileName("env")), 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(tt.path), fi.Mode(), tt.want)
		}
	}
}

func setVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(v)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := tempStore(t)
	setVersion(t, path, schemaVersion+1)
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this broker") {
		t.Errorf("Open of a newer file = %v, want a refusal", err)
	}
	if err := s.Put(context.Background(), state.Host{ID: "1", Environment: "e"}); err == nil {
		t.Errorf("Put into a newer file succeeded")
	}
	if _, err := s.Hosts(context.Background(), state.Query{}); err == nil {
		t.Errorf("Hosts of a newer file succeeded")
	}
}

func TestMigration(t *testing.T) {
	s, path := tempStore(t)
	if err := s.Put(context.Background(), state.Host{ID: "1", Environment: "e"}); err != nil {
		t.Fatal(err)
	}
	// Pretend this build is one version on, with a migration that marks
	// the file.
	oldVersion, oldMigrations := schemaVersion, migrations
	t.Cleanup(func() { schemaVersion, migrations = oldVersion, oldMigrations })
	schemaVersion = oldVersion + 1
	migrations = make([]func(*bbolt.Tx) error, oldVersion)
	ran := 0
	migrations[oldVersion-1] = func(tx *bbolt.Tx) error {
		ran++
		return tx.Bucket(bucketMeta).Put([]byte("migrated"), []byte("yes"))
	}

	// A read finds the old file and migrates it first.
	hosts, err := s.Hosts(context.Background(), state.Query{})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("Hosts after upgrade = %v, %v", hosts, err)
	}
	if _, err := Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	if ran != 1 {
		t.Errorf("migration ran %d times, want 1", ran)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		got := map[string]string{"version": string(m.Get(keySchema)), "migrated": string(m.Get([]byte("migrated")))}
		want := map[string]string{"version": strconv.Itoa(oldVersion + 1), "migrated": "yes"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("meta after migration (-want +got):\n%s", diff)
		}
		return nil
	})
}

func TestMissingMigrationRefused(t *testing.T) {
	_, path := tempStore(t)
	oldVersion := schemaVersion
	t.Cleanup(func() { schemaVersion = oldVersion })
	schemaVersion = oldVersion + 1
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "no migration") {
		t.Errorf("Open without a migration = %v", err)
	}
}

func TestLockFileName(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct{ env, want string }{
		{"ui-tests", "env-ui-tests.lock"},
		{"a/b", "env-a%2Fb.lock"},
		{"..", "env-%2E%2E.lock"},
		{"a.b", "env-a%2Eb.lock"},
		{"sp ace", "env-sp%20ace.lock"},
		{"ü", "env-%C3%BC.lock"},
	}
	for _, tt := range tests {
		if got := LockFileName(tt.env); got != tt.want {
			t.Errorf("LockFileName(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
	if got := LockFileName(long); len(got) > 255 || got == LockFileName(long+"y") {
		t.Errorf("LockFileName of long names: %q (%d bytes) not short and unique", got, len(got))
	}
}
