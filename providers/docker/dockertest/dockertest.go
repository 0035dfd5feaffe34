package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Image tags built by test/images/build.sh.
const (
	SSHDImage    = "broker-sshd:bookworm"
	BusyboxImage = "broker-busybox:latest"
)

// LabelKey is the label every test resource carries; its value is unique
// per test (Run.Value).
const LabelKey = "broker.test.run"

// skipOrFail skips t with reason, or fails it when CI=true.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

var (
	engineOnce sync.Once
	engineAPI  *client.Client
	engineErr  error
)

// Engine returns a client for the engine named by DOCKER_HOST (default the
// local socket), or skips t when it does not answer.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	engineOnce.Do(func() {
		api, err := client.New(client.FromEnv)
		if err != nil {
			engineErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
			engineErr = err
			_ = api.Close()
			return
		}
		engineAPI = api
	})
	if engineErr != nil {
		skipOrFail(t, "no docker engine: %v", engineErr)
	}
	return engineAPI
}

var (
	buildMu   sync.Mutex
	buildDone = map[string]error{}
)

// Image makes sure the test image name ("sshd" or "busybox") exists,
// building it with test/images/build.sh when it is missing or stale, and
// returns its tag.
func Image(t testing.TB, name string) string {
	t.Helper()
	Engine(t)
	tag := map[string]string{"sshd": SSHDImage, "busybox": BusyboxImage}[name]
	if tag == "" {
		t.Fatalf("dockertest: unknown image %q", name)
	}
	buildMu.Lock()
	err, done := buildDone[name]
	if !done {
		err = build(name)
		buildDone[name] = err
	}
	buildMu.Unlock()
	if err != nil {
		skipOrFail(t, "test image %s not available: %v", tag, err)
	}
	return tag
}

func build(name string) error {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "images", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return err
	}
	out, err := exec.Command(script, name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", script, name, err, out)
	}
	return nil
}

// Run is one test's share of the engine.
type Run struct {
	API *client.Client
	// Value is the unique value of LabelKey for this test; Prefix a unique
	// name prefix.
	Value, Prefix string
}

// Labels returns the run's label set (to merge into what a test makes).
func (r *Run) Labels() map[string]string { return map[string]string{LabelKey: r.Value} }

// NewRun returns a Run for t and registers a cleanup that removes every
// container, network and volume labelled with it.
func NewRun(t testing.TB) *Run {
	t.Helper()
	api := Engine(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := &Run{API: api, Value: hex.EncodeToString(b[:])}
	r.Prefix = "bt" + r.Value
	t.Cleanup(func() {
		if err := r.Purge(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return r
}

// Filter selects the run's resources.
func (r *Run) Filter() client.Filters {
	return client.Filters{}.Add("label", LabelKey+"="+r.Value)
}

// Purge removes the run's containers (with their anonymous volumes),
// networks and volumes.
func (r *Run) Purge(ctx context.Context) error {
	cs, err := r.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: r.Filter()})
	if err != nil {
		return err
	}
	for _, c := range cs.Items {
		if _, err := r.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return err
		}
	}
	ns, err := r.API.NetworkList(ctx, client.NetworkListOptions{Filters: r.Filter()})
	if err != nil {
		return err
	}
	for _, n := range ns.Items {
		if _, err := r.API.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			return err
		}
	}
	vs, err := r.API.VolumeList(ctx, client.VolumeListOptions{Filters: r.Filter()})
	if err != nil {
		return err
	}
	for _, v := range vs.Items {
		if _, err := r.API.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			return err
		}
	}
	return nil
}

// Left counts the run's containers, networks and volumes still present.
func (r *Run) Left(ctx context.Context) (containers, networks, volumes int, err error) {
	cs, err := r.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: r.Filter()})
	if err != nil {
		return 0, 0, 0, err
	}
	ns, err := r.API.NetworkList(ctx, client.NetworkListOptions{Filters: r.Filter()})
	if err != nil {
		return 0, 0, 0, err
	}
	vs, err := r.API.VolumeList(ctx, client.VolumeListOptions{Filters: r.Filter()})
	if err != nil {
		return 0, 0, 0, err
	}
	return len(cs.Items), len(ns.Items), len(vs.Items), nil
}
