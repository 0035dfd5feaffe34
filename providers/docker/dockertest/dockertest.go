package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

// Engine is a container engine the tests run against: the machine's
// Docker engine, or a Podman service that this test binary starts for
// itself (see Podman).
type Engine struct {
	// Name is "docker" or "podman".
	Name string
	// Host is the engine's address (unix://…), for a provider's host
	// setting, DOCKER_HOST or docker -H. Empty for Docker: its client and
	// CLI find it through DOCKER_HOST or the usual socket.
	Host string
	API  *client.Client

	mu     sync.Mutex
	images map[string]error // by test image name: made (docker) or loaded (podman)
}

// Names are the engines Each runs a test on.
var Names = []string{"docker", "podman"}

// Each runs f as one subtest per engine (docker, podman), the engines side
// by side (parallel subtests: each has its own run label, and a test's time
// is mostly spent waiting on its engine). A subtest whose engine is missing
// skips, or fails when CI=true. f must not call t.Setenv.
func Each(t *testing.T, f func(t *testing.T, e *Engine)) {
	t.Helper()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, ByName(t, name))
		})
	}
}

var (
	onMu sync.Mutex
	on   = map[string]string{} // test name prefix → engine name
)

// RunOn runs each of tests as a subtest of t on the engine called name:
// inside them, EngineOf returns that engine. It lets a package whose
// tests get their engine from EngineOf run them on Podman too, with
// one test:
//
//	func TestPodman(t *testing.T) {
//		dockertest.RunOn(t, "podman", map[string]func(*testing.T){"Run": TestRun})
//	}
func RunOn(t *testing.T, name string, tests map[string]func(*testing.T)) {
	t.Helper()
	onMu.Lock()
	on[t.Name()+"/"] = name
	onMu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(tests)) {
		t.Run(k, tests[k])
	}
}

// EngineOf returns the engine t runs on: the one RunOn chose for it,
// else Docker.
func EngineOf(t testing.TB) *Engine {
	t.Helper()
	onMu.Lock()
	name := "docker"
	for prefix, n := range on {
		if strings.HasPrefix(t.Name()+"/", prefix) {
			name = n
		}
	}
	onMu.Unlock()
	return ByName(t, name)
}

// ByName returns the engine called name ("docker" or "podman").
func ByName(t testing.TB, name string) *Engine {
	t.Helper()
	switch name {
	case "docker":
		return Docker(t)
	case "podman":
		return Podman(t)
	}
	t.Fatalf("dockertest: unknown engine %q", name)
	return nil
}

var (
	dockerOnce sync.Once
	dockerEng  *Engine
	dockerErr  error
)

// Docker returns the engine named by DOCKER_HOST (default the local
// socket), or skips t when it does not answer.
func Docker(t testing.TB) *Engine {
	t.Helper()
	dockerOnce.Do(func() {
		api, err := client.New(client.FromEnv)
		if err != nil {
			dockerErr = err
			return
		}
		if err := ping(api); err != nil {
			dockerErr = err
			_ = api.Close()
			return
		}
		dockerEng = &Engine{Name: "docker", API: api}
	})
	if dockerErr != nil {
		skipOrFail(t, "no docker engine: %v", dockerErr)
	}
	return dockerEng
}

func ping(api *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}

// Image makes sure the test image name ("sshd" or "busybox") exists on
// the Docker engine, building it with test/images/build.sh when it is
// missing or stale, and returns its tag.
func Image(t testing.TB, name string) string {
	t.Helper()
	return Docker(t).Image(t, name)
}

// Image makes sure the test image name ("sshd" or "busybox") exists on
// the engine and returns its tag. On Docker it is built with
// test/images/build.sh when missing or stale; on Podman it is copied from
// Docker (docker save | podman load), so Podman's tests need Docker too.
func (e *Engine) Image(t testing.TB, name string) string {
	t.Helper()
	tag := map[string]string{"sshd": SSHDImage, "busybox": BusyboxImage}[name]
	if tag == "" {
		t.Fatalf("dockertest: unknown image %q", name)
	}
	if e.Name == "podman" {
		// Built first, outside the lock: build.sh serialises builds.
		Docker(t).Image(t, name)
	}
	e.mu.Lock()
	err, done := e.images[name]
	if !done {
		if e.Name == "podman" {
			err = e.load(tag)
		} else {
			err = build(name)
		}
		if e.images == nil {
			e.images = map[string]error{}
		}
		e.images[name] = err
	}
	e.mu.Unlock()
	if err != nil {
		skipOrFail(t, "test image %s not available on %s: %v", tag, e.Name, err)
	}
	return tag
}

// Settings are the provider settings (HCL attribute name to value) that
// point a docker provider at the engine; none for Docker, which is found
// through DOCKER_HOST.
func (e *Engine) Settings() map[string]string {
	if e.Name == "docker" {
		return nil
	}
	return map[string]string{"host": e.Host, "engine": e.Name}
}

// HCL is Settings as lines of a provider block.
func (e *Engine) HCL() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(e.Settings())) {
		fmt.Fprintf(&b, "  %s = %q\n", k, e.Settings()[k])
	}
	return b.String()
}

// CLI is the docker command line aimed at the engine (docker -H for
// Podman: the docker CLI speaks to Podman's compatible socket).
func (e *Engine) CLI(args ...string) *exec.Cmd {
	if e.Host != "" {
		args = append([]string{"-H", e.Host}, args...)
	}
	return exec.Command("docker", args...)
}

// Run is one test's share of an engine.
type Run struct {
	Engine *Engine
	API    *client.Client
	// Value is the unique value of LabelKey for this test; Prefix a unique
	// name prefix.
	Value, Prefix string
}

// Labels returns the run's label set (to merge into what a test makes).
func (r *Run) Labels() map[string]string { return map[string]string{LabelKey: r.Value} }

// NewRun returns a Run on the Docker engine for t and registers a cleanup
// that removes every container, network and volume labelled with it.
func NewRun(t testing.TB) *Run {
	t.Helper()
	return Docker(t).NewRun(t)
}

// NewRun returns a Run on e for t and registers a cleanup that removes
// every container, network and volume labelled with it.
func (e *Engine) NewRun(t testing.TB) *Run {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := &Run{Engine: e, API: e.API, Value: hex.EncodeToString(b[:])}
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

// repoRoot is the repository's top folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func build(name string) error {
	script := filepath.Join(repoRoot(), "test", "images", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return err
	}
	out, err := exec.Command(script, name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", script, name, err, out)
	}
	return nil
}
