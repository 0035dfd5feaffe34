package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// PodmanHostEnv names an environment variable that points the tests at a
// Podman API that runs already (unix:///run/user/1000/podman/podman.sock,
// for a rootless one) instead of the service the harness starts.
const PodmanHostEnv = "BROKER_TEST_PODMAN_HOST"

var (
	podmanOnce sync.Once
	podmanEng  *Engine
	podmanErr  error
)

// Podman returns a Podman engine, or skips t (fails it when CI=true) when
// there is none. Unless PodmanHostEnv names one, it is a service of this
// test binary's own, started on first use with test/podman/serve.sh: its
// socket and storage are in a temporary folder, it loads the test images
// on demand (Engine.Image), and it ends, removing its containers and the
// folder, when the test binary ends.
func Podman(t testing.TB) *Engine {
	t.Helper()
	podmanOnce.Do(func() { podmanEng, podmanErr = startPodman() })
	if podmanErr != nil {
		skipOrFail(t, "no podman engine: %v", podmanErr)
	}
	return podmanEng
}

func startPodman() (*Engine, error) {
	if host := os.Getenv(PodmanHostEnv); host != "" {
		return podmanClient(host)
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("%w (make deps installs it)", err)
	}
	dir, err := os.MkdirTemp("", "broker-podman-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "podman.sock")
	// The socket is made here and handed to podman (socket activation):
	// a client connecting before podman is up waits in the backlog.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	_ = l.Close()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer f.Close()
	// Not the test's stdout: go test would wait for it to close.
	logf, err := os.CreateTemp("", "broker-podman-log-")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()

	cmd := exec.Command("bash", filepath.Join(repoRoot(), "test", "podman", "serve.sh"), dir)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The kernel sends SIGTERM to the service when the thread that started
	// it ends; that thread is kept (locked, never released) until the test
	// binary exits, whichever way it exits.
	// Its own process group: a signal to the test's group (Ctrl-C) ends
	// the test binary, and that ends the service, in that order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
		select {} // the thread must outlive the service
	}()
	if err := <-started; err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	e, err := podmanClient("unix://" + sock)
	if err != nil {
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("podman service ended (%v): %w\n%s", werr, err, bytes.TrimSpace(log))
		default:
		}
		return nil, err
	}
	return e, nil
}

func podmanClient(host string) (*Engine, error) {
	api, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, err
	}
	// Generous: the first start of podman on a machine sets up its
	// storage. This bounds a hang, it times nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("podman at %s: %w", host, err)
	}
	return &Engine{Name: "podman", Host: host, API: api}, nil
}

// load copies tag from the Docker engine (docker save | podman load).
func (e *Engine) load(tag string) error {
	save := exec.Command("docker", "save", tag)
	load := exec.Command("podman", "--url", e.Host, "load")
	var saveErr, loadOut bytes.Buffer
	save.Stderr = &saveErr
	load.Stdout, load.Stderr = &loadOut, &loadOut
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		return err
	}
	lerr := load.Run()
	serr := save.Wait()
	if err := errors.Join(serr, lerr); err != nil {
		return fmt.Errorf("docker save %s | podman load: %w\n%s%s", tag, err, saveErr.String(), strings.TrimSpace(loadOut.String()))
	}
	return nil
}
