package libvirttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// nobody is the user the daemon runs as (Debian's nobody/nogroup).
const nobody = 65534

// PoolName is the name of the daemon's storage pool.
const PoolName = "broker-test"

// startTimeout bounds the daemon's start.
const startTimeout = 60 * time.Second

// Daemon is a running private libvirtd.
type Daemon struct {
	// Dir holds everything of the daemon's: socket, configuration, logs,
	// the pool's files and the guest's kernel and initramfs.
	Dir string
	// Socket is the daemon's unix socket; URI the connection URI for it.
	Socket string
	URI    string
	// RuntimeDir is the daemon's XDG_RUNTIME_DIR: a session client that
	// has it finds the daemon's socket (virt-ssh-helper qemu:///session).
	RuntimeDir string
	// Pool is the name of its directory storage pool; PoolDir the pool's
	// directory.
	Pool    string
	PoolDir string

	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("libvirttest: "+format+" (CI=true: not skipping)", args...)
	}
	t.Skipf("libvirttest: "+format, args...)
}

// lookBin finds a program in PATH or the sbin directories.
func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, name); isExec(p) {
			return p
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Require checks that the daemon can run here: root (to run it as nobody),
// libvirtd, qemu-system-x86_64 and qemu-img.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "needs root, to run libvirtd as the user nobody")
	}
	for _, p := range [][2]string{
		{"libvirtd", "libvirt-daemon libvirt-daemon-driver-qemu"},
		{"qemu-system-x86_64", "qemu-system-x86"},
		{"qemu-img", "qemu-utils"},
	} {
		if lookBin(p[0]) == "" {
			skip(t, "%s is not installed (Debian: apt-get install %s; test/deps.sh does)", p[0], p[1])
		}
	}
}

// Start starts a private libvirtd in session mode and a storage pool for
// it; both go when t ends.
func Start(t testing.TB) *Daemon {
	t.Helper()
	Require(t)
	// Not t.TempDir: the daemon runs as nobody, which must reach the
	// directory, and t.TempDir's parents are private to root.
	dir, err := os.MkdirTemp("", "libvirttest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &Daemon{Dir: dir, Pool: PoolName, PoolDir: filepath.Join(dir, "pool"), log: filepath.Join(dir, "libvirtd.log")}
	run := filepath.Join(dir, "run")
	for _, sub := range []string{"run", "config/libvirt", "cache", "data", "pool", "console"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// No virtlogd: qemu's output goes to a file of the daemon's.
	if err := os.WriteFile(filepath.Join(dir, "config/libvirt/qemu.conf"), []byte("stdio_handler = \"file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chownTree(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d.RuntimeDir = run
	d.Socket = filepath.Join(run, "libvirt", "libvirt-sock")
	d.URI = "qemu+unix:///session?socket=" + d.Socket

	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(lookBin("libvirtd"))
	d.cmd.Dir = dir
	d.cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + run,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"LIBVIRT_LOG_OUTPUTS=3:stderr",
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody},
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("libvirttest: start libvirtd: %v", err)
	}
	logf.Close()
	d.exited = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("libvirtd log (tail):\n%s", tail(d.Log(), 30))
			for _, f := range d.ConsoleLogs() {
				b, _ := os.ReadFile(f)
				t.Logf("console %s (tail):\n%s", filepath.Base(f), tail(string(b), 30))
			}
		}
	})
	if err := d.waitSocket(); err != nil {
		t.Fatalf("libvirttest: %v\nlog:\n%s", err, tail(d.Log(), 30))
	}
	d.createPool(t)
	return d
}

// waitSocket waits until the daemon accepts connections on its socket, or
// exits.
func (d *Daemon) waitSocket() error {
	deadline := time.Now().Add(startTimeout)
	backoff := 10 * time.Millisecond
	for {
		c, err := net.Dial("unix", d.Socket)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("libvirtd exited at start")
		case <-time.After(backoff):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("libvirtd did not listen on %s within %s", d.Socket, startTimeout)
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// Connect opens a client connection to the daemon, closed when t ends.
func (d *Daemon) Connect(t testing.TB) *golibvirt.Libvirt {
	t.Helper()
	l := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.Socket)))
	if err := l.ConnectToURI(golibvirt.QEMUSession); err != nil {
		t.Fatalf("libvirttest: connect to %s: %v", d.Socket, err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return l
}

func (d *Daemon) createPool(t testing.TB) {
	t.Helper()
	l := d.Connect(t)
	xml := fmt.Sprintf("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>", d.Pool, d.PoolDir)
	if _, err := l.StoragePoolCreateXML(xml, 0); err != nil {
		t.Fatalf("libvirttest: create pool: %v", err)
	}
}

// Domains lists the names of the daemon's domains, running or not.
func (d *Daemon) Domains(t testing.TB) []string {
	t.Helper()
	l := d.Connect(t)
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatalf("libvirttest: list domains: %v", err)
	}
	var out []string
	for _, dom := range doms {
		out = append(out, dom.Name)
	}
	return out
}

// Volumes lists the names of the pool's volumes.
func (d *Daemon) Volumes(t testing.TB) []string {
	t.Helper()
	l := d.Connect(t)
	p, err := l.StoragePoolLookupByName(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoragePoolRefresh(p, 0); err != nil {
		t.Fatal(err)
	}
	vols, _, err := l.StoragePoolListAllVolumes(p, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

// ConsoleDir is where domains made for the tests log their serial console
// (the provider's console_log_dir setting).
func (d *Daemon) ConsoleDir() string { return filepath.Join(d.Dir, "console") }

// ConsoleLogs lists the console log files.
func (d *Daemon) ConsoleLogs() []string {
	m, _ := filepath.Glob(filepath.Join(d.ConsoleDir(), "*.log"))
	return m
}

// Log is the daemon's log so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// stop kills the daemon's process group, and with it every qemu it runs
// (their processes are its children; a domain's qemu that outlived it is
// killed by its pid file).
func (d *Daemon) stop() {
	pids, _ := filepath.Glob(filepath.Join(d.Dir, "config/libvirt/qemu/run/*.pid"))
	pids2, _ := filepath.Glob(filepath.Join(d.Dir, "run/libvirt/qemu/run/*.pid"))
	for _, f := range append(pids, pids2...) {
		if b, err := os.ReadFile(f); err == nil {
			var pid int
			if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 1 && filepath.Base(f) != "driver.pid" {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if d.cmd != nil && d.cmd.Process != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
	}
}

func chownTree(dir string) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
