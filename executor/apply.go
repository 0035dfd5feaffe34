package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// DefaultParallelism is the number of changes applied at once when
// Options.Parallelism is zero.
const DefaultParallelism = 10

// Options configure Apply.
type Options struct {
	// Store is where intents and records are written. Apply coalesces its
	// writes (see state.NewBatcher).
	Store state.Store
	// Provider resolves a provider instance.
	Provider func(typ, instance string) (providers.Provider, error)
	// Parallelism bounds the changes applied at once; zero: 10.
	Parallelism int
	// MaxConcurrency, if set, bounds the changes applied at once per
	// provider instance; a result of zero or less: unbounded.
	MaxConcurrency func(typ, instance string) int
	// Observer receives events; nil: none. It must be safe for
	// concurrent use.
	Observer Observer
	// Stop, when closed, stops scheduling: changes not yet started are
	// skipped, those in flight finish and are recorded.
	Stop <-chan struct{}
	// AfterCheckout runs setup and hooks on a host just checked out
	// (phase setup). It may change *h (pin a host key, add facts). An
	// error taints the host, unless it is a KeepError, which leaves the
	// host ready with the error as its Reason. Nil: none.
	AfterCheckout func(ctx context.Context, h *state.Host, c planner.Change, emit func(Event)) error
	// Resolve fills in the args and labels of a desired host that the
	// plan left unknown (Desired.Unknown: they refer to hosts checked out
	// in the same apply, which are ready when it is called). It returns
	// the host as it is to be checked out. Nil: such a change fails.
	Resolve func(ctx context.Context, env string, c planner.Change) (*planner.Desired, error)
	// RunAction runs an action block's change (Change.Act): resolves what
	// the plan left unknown, runs it and records its result. Nil: such a
	// change fails.
	RunAction func(ctx context.Context, env string, c planner.Change, emit func(Event)) error
	// BeforeCheckin runs teardown before a host is checked in (phase
	// teardown). Its error is reported as a note; the check-in goes on.
	BeforeCheckin func(ctx context.Context, h state.Host, emit func(Event)) error
	// Session opens a session on a recorded host, for providers that
	// extend by running a command on it (Beaker). Nil: none.
	Session func(ctx context.Context, h *state.Host) (remote.Session, error)
	// Origin is written into records and intents, and labels resources.
	Origin state.Origin
	// User is the local user, for the broker.user label; empty:
	// Origin.User.
	User string
	// StateID is the state's identity, for the broker.state label; empty:
	// the Store's (state.Identifier), read when the plan creates hosts.
	StateID string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// KeepError is returned by AfterCheckout when setup failed but the host is
// to be kept as it is (on_failure = "keep"): the record becomes ready,
// with the error as its Reason, and the change is done.
type KeepError struct{ Err error }

func (e *KeepError) Error() string { return e.Err.Error() }
func (e *KeepError) Unwrap() error { return e.Err }

// Keep wraps err so that a setup failure keeps the host; nil stays nil.
func Keep(err error) error {
	if err == nil {
		return nil
	}
	return &KeepError{Err: err}
}

// Apply applies the plan's changes and returns what became of each. It
// returns an error only when it cannot start (bad options); the failures
// of single changes are in the Result (Result.Err).
func Apply(ctx context.Context, p *planner.Plan, opts Options) (*Result, error) {
	if p == nil {
		return nil, errors.New("apply: no plan")
	}
	if opts.Store == nil {
		return nil, errors.New("apply: no state store")
	}
	if opts.Provider == nil {
		return nil, errors.New("apply: no provider resolver")
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.User == "" {
		opts.User = opts.Origin.User
	}
	if opts.StateID == "" && creates(p) {
		if idr, ok := opts.Store.(state.Identifier); ok {
			id, err := idr.Identity(ctx)
			if err != nil {
				return nil, fmt.Errorf("apply: %w", err)
			}
			opts.StateID = id
		}
	}
	a := &applier{opts: opts, env: p.Environment, store: batch(opts.Store)}
	res := a.walk(ctx, p.Changes)
	return res, nil
}

// creates reports whether the plan makes any host (and so labels one).
func creates(p *planner.Plan) bool {
	for _, c := range p.Changes {
		if c.Action == planner.Create || c.Action == planner.Replace {
			return true
		}
	}
	return false
}

// applier holds what one Apply shares between its goroutines; all of it
// is read-only after Apply starts.
type applier struct {
	opts  Options
	env   string
	store *state.Batcher
}

func (a *applier) emit(e Event) {
	if a.opts.Observer == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = a.opts.Now()
	}
	a.opts.Observer.Event(e)
}

// provider resolves a provider instance. Its errors already name the
// instance (Options.Provider's maker says which one failed), so they pass
// through as they are.
func (a *applier) provider(typ, inst string) (providers.Provider, error) {
	pr, err := a.opts.Provider(typ, inst)
	if err != nil {
		return nil, err
	}
	if pr == nil {
		return nil, fmt.Errorf("provider %s.%s: not configured", typ, inst)
	}
	return pr, nil
}
