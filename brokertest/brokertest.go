package brokertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labbroker/broker"
)

var (
	keep  = flag.Bool("broker.keep", false, "brokertest: keep the hosts and environments tests check out (nothing is checked in) and log their names")
	lease = flag.Duration("broker.lease", 2*time.Hour, "brokertest: lease of hosts checked out without broker.Lease (what `broker reap` goes by after a crash)")
)

// Keep reports whether -broker.keep was given.
func Keep() bool { return *keep }

var shared struct {
	once sync.Once
	c    *broker.Client
	err  error

	mu      sync.Mutex
	inMain  bool
	pending map[string]*sharedCheckout
}

type sharedCheckout struct {
	done chan struct{}
	host *broker.Host
	err  error
}

// EnvironmentName is where the shared client records checkouts:
// $BROKER_ENVIRONMENT, else the test binary's name (gotest.test).
func EnvironmentName() string {
	if e := os.Getenv("BROKER_ENVIRONMENT"); e != "" {
		return e
	}
	return sanitize(strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"))
}

// sanitize keeps what environment names allow: letters, digits, '.', '-'
// and '_'.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "test"
	}
	return b.String()
}

func sharedClient() (*broker.Client, error) {
	shared.once.Do(func() {
		shared.c, shared.err = broker.Open(context.Background(), broker.Options{
			Environment: EnvironmentName(),
			Command:     "go test (" + filepath.Base(os.Args[0]) + ")",
		})
	})
	return shared.c, shared.err
}

// Client is the test binary's shared client (see the package
// documentation); it fails t if the client cannot be opened.
func Client(t testing.TB) *broker.Client {
	t.Helper()
	c, err := sharedClient()
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return c
}

// Helpers are Checkout, CheckoutN and Apply over a given Client.
type Helpers struct {
	Client *broker.Client
}

// With returns the helpers over c, for a test with a client of its own
// (its own directory or settings).
func With(c *broker.Client) Helpers { return Helpers{Client: c} }

// Checkout checks a host out of the shared client for the test, and
// checks it in when the test and its subtests are done. See
// Helpers.Checkout.
func Checkout(t testing.TB, opts ...broker.Option) *broker.Host {
	t.Helper()
	return With(Client(t)).Checkout(t, opts...)
}

// CheckoutN checks n hosts out of the shared client for the test. See
// Helpers.CheckoutN.
func CheckoutN(t testing.TB, n int, opts ...broker.Option) []*broker.Host {
	t.Helper()
	return With(Client(t)).CheckoutN(t, n, opts...)
}

// Apply applies a manifest with the shared client for the test. See
// Helpers.Apply.
func Apply(t testing.TB, path string, opts ...broker.ApplyOption) *broker.Environment {
	t.Helper()
	return With(Client(t)).Apply(t, path, opts...)
}

// Checkout checks a host out (with Setup steps run) or fails t, and
// registers a cleanup that checks it in (after its Teardown steps), which
// runs however the test ends. A check-in error fails the test.
func (x Helpers) Checkout(t testing.TB, opts ...broker.Option) *broker.Host {
	t.Helper()
	return x.CheckoutN(t, 1, opts...)[0]
}

// CheckoutN is Checkout of n hosts at once.
func (x Helpers) CheckoutN(t testing.TB, n int, opts ...broker.Option) []*broker.Host {
	t.Helper()
	opts = append([]broker.Option{broker.Lease(*lease)}, opts...)
	hosts, err := x.Client.CheckoutN(t.Context(), n, opts...)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(func() {
		if *keep {
			for _, h := range hosts {
				t.Logf("brokertest: -broker.keep: keeping %s (id %s, environment %s); check it in with: broker checkin %s", h, h.ID, h.Environment, h.ID)
			}
			return
		}
		// t.Context is done by now: the check-in gets a context of its own.
		if err := x.Client.Checkin(context.Background(), hosts...); err != nil {
			t.Errorf("brokertest: %v", err)
		}
	})
	return hosts
}

// Apply applies the manifest at path or fails t, and registers a cleanup
// that destroys the environment. The environment is named after the test
// (EnvironmentName() + "." + the test's name) unless opts give
// broker.InEnvironment.
func (x Helpers) Apply(t testing.TB, path string, opts ...broker.ApplyOption) *broker.Environment {
	t.Helper()
	name := sanitize(x.Client.Environment() + "." + t.Name())
	opts = append([]broker.ApplyOption{broker.InEnvironment(name)}, opts...)
	env, err := x.Client.Apply(t.Context(), path, opts...)
	if env != nil {
		t.Cleanup(func() {
			if *keep {
				t.Logf("brokertest: -broker.keep: keeping environment %s; destroy it with: broker destroy -f %s -e %s", env.Name, env.Path, env.Name)
				return
			}
			if err := x.Client.Destroy(context.Background(), env); err != nil {
				t.Errorf("brokertest: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return env
}

// Main runs the package's tests: setup (if not nil) with the shared
// client, then m.Run, then a check-in of every host the shared client
// still holds (those of setup and Shared) and a destroy of every
// environment it applied, whatever the tests' outcome. It returns the exit
// code for os.Exit: m.Run's, or 1 when setup or the check-in failed.
//
//	func TestMain(m *testing.M) {
//		os.Exit(brokertest.Main(m, func(ctx context.Context, c *broker.Client) error { … }))
//	}
//
// With -broker.keep nothing is checked in; the hosts are listed on stderr.
func Main(m *testing.M, setup func(ctx context.Context, c *broker.Client) error) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	c, err := sharedClient()
	if err != nil {
		fmt.Fprintf(os.Stderr, "brokertest: %v\n", err)
		return 1
	}
	defer c.Close()
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	ctx := context.Background()
	code := 0
	if setup != nil {
		if err := setup(ctx, c); err != nil {
			fmt.Fprintf(os.Stderr, "brokertest: setup: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		code = m.Run()
	}
	if *keep {
		for _, h := range c.Held() {
			fmt.Fprintf(os.Stderr, "brokertest: -broker.keep: keeping %s (id %s, environment %s)\n", h, h.ID, h.Environment)
		}
		return code
	}
	if err := c.Cleanup(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "brokertest: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Shared returns the package-wide host called name: checked out with opts
// by the first test that asks (the others wait for it), handed to every
// later test as is, and checked in by Main after all tests. It needs
// Main; without it, Shared fails the test. A checkout that failed fails
// every test that asks for name.
//
// Tests sharing a host must not undo each other's work on it; a test that
// needs a clean host checks one out of its own.
func Shared(t testing.TB, name string, opts ...broker.Option) *broker.Host {
	t.Helper()
	c := Client(t)
	shared.mu.Lock()
	if !shared.inMain {
		shared.mu.Unlock()
		t.Fatalf("brokertest: Shared(%q) needs brokertest.Main in TestMain, which checks shared hosts in", name)
	}
	if shared.pending == nil {
		shared.pending = map[string]*sharedCheckout{}
	}
	sc, ok := shared.pending[name]
	if !ok {
		sc = &sharedCheckout{done: make(chan struct{})}
		shared.pending[name] = sc
	}
	shared.mu.Unlock()
	if !ok {
		opts = append([]broker.Option{broker.Lease(*lease)}, opts...)
		// Not the test's context: the host outlives the test.
		sc.host, sc.err = c.Checkout(context.WithoutCancel(t.Context()), opts...)
		close(sc.done)
	}
	select {
	case <-sc.done:
	case <-t.Context().Done():
		t.Fatalf("brokertest: waiting for shared host %q: %v", name, t.Context().Err())
	}
	if sc.err != nil {
		t.Fatalf("brokertest: shared host %q: %v", name, sc.err)
	}
	return sc.host
}
