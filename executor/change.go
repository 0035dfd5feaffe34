package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/planner"
	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/state"
)

// job is one change being applied. Its events are emitted in order from
// the goroutine that runs it.
type job struct {
	a      *applier
	c      planner.Change
	hostID string
}

// run applies one change.
func (a *applier) run(ctx context.Context, c planner.Change) *ChangeResult {
	j := &job{a: a, c: c, hostID: hostIDOf(c)}
	if c.Action == planner.Create {
		j.hostID = newHostID(c)
	}
	start := time.Now()
	j.event(Event{Kind: EventStart, Reason: &c.Reason})
	var (
		host *state.Host
		err  error
	)
	switch {
	case c.Act != nil:
		err = j.runAction(ctx)
	case c.Action == planner.Create:
		host, err = j.create(ctx)
	case c.Action == planner.Replace:
		if c.Before == nil {
			err = errors.New("replace without a record")
			break
		}
		if err = j.destroy(ctx, c.Before); err == nil {
			host, err = j.create(ctx)
		}
	case c.Action == planner.Destroy:
		switch {
		case c.Before != nil:
			err = j.destroy(ctx, c.Before)
		case c.Resume != nil:
			err = j.cleanup(ctx, c.Resume)
		default:
			err = errors.New("destroy without a record or an intent")
		}
	case c.Action == planner.Extend:
		host, err = j.extend(ctx)
	default:
		err = fmt.Errorf("unknown action %s", c.Action)
	}
	notRun := c.Act != nil && errors.Is(err, ErrWhenFalse)
	if notRun {
		j.note("not run: %v", err)
		err = nil
	}
	r := &ChangeResult{Address: c.Address, HostID: j.hostID, Action: c.Action, Host: host, Err: err, NotRun: notRun}
	e := Event{Kind: EventDone, Duration: time.Since(start)}
	if err != nil {
		r.Outcome = OutcomeFailed
		e.Kind, e.Err = EventFailed, err.Error()
	}
	j.event(e)
	return r
}

// runAction runs an action block's change through Options.RunAction.
func (j *job) runAction(ctx context.Context) error {
	if j.a.opts.RunAction == nil {
		return errors.New("nothing runs actions")
	}
	return j.phase(PhaseAction, func() error {
		return j.a.opts.RunAction(ctx, j.a.env, j.c, j.event)
	})
}

// event fills in the change's identity and emits e.
func (j *job) event(e Event) {
	if e.Address == "" {
		e.Address = j.c.Address
	}
	if e.HostID == "" {
		e.HostID = j.hostID
	}
	e.Action = j.c.Action
	j.a.emit(e)
}

func (j *job) note(format string, args ...any) {
	j.event(Event{Kind: EventNote, Message: fmt.Sprintf(format, args...)})
}

// phase brackets f with phase events.
func (j *job) phase(p Phase, f func() error) error {
	j.event(Event{Kind: EventPhaseStart, Phase: p})
	start := time.Now()
	err := f()
	e := Event{Kind: EventPhaseDone, Phase: p, Duration: time.Since(start)}
	if err != nil {
		e.Err = err.Error()
	}
	j.event(e)
	return err
}

// create checks a host out for c.After and records it.
func (j *job) create(ctx context.Context) (*state.Host, error) {
	a, d := j.a, j.c.After
	if d == nil {
		return nil, errors.New("create without a desired host")
	}
	if len(d.Unknown) > 0 {
		if a.opts.Resolve == nil {
			return nil, fmt.Errorf("%s are not known and nothing resolves them", strings.Join(d.Unknown, ", "))
		}
		r, err := a.opts.Resolve(ctx, a.env, j.c)
		if err != nil {
			return nil, err
		}
		d = r
		j.c.After = r
	}
	w := context.WithoutCancel(ctx)
	pr, err := a.provider(d.Provider, d.Instance)
	if err != nil {
		return nil, err
	}
	now := a.opts.Now()
	resume := createResume(j.c)
	if j.c.Action != planner.Create {
		// A replace: the new record's id replaces the old one's.
		j.hostID = newHostID(j.c)
	}
	in := state.Intent{
		ID: state.NewID(), Environment: a.env, Address: j.c.Address, Op: state.OpCreate,
		Provider: d.Provider, Instance: d.Instance, HostID: j.hostID, Recipe: d.Args,
		Origin: a.opts.Origin, Created: now, Updated: now,
	}
	var req providers.CheckoutRequest
	if resume != nil {
		in.ID, in.ProviderID, in.Checkpoint = resume.ID, resume.ProviderID, maps.Clone(resume.Checkpoint)
		if !resume.Created.IsZero() {
			in.Created = resume.Created
		}
		req.Resume = &providers.Resume{IntentID: resume.ID, ProviderID: resume.ProviderID, Checkpoint: maps.Clone(resume.Checkpoint)}
	}
	if err := a.store.PutIntents(w, in); err != nil {
		return nil, fmt.Errorf("write intent: %w", err)
	}

	// The intent is shared with the provider's checkpoint calls.
	var (
		mu     sync.Mutex
		closed bool
	)
	snapshot := func() state.Intent {
		mu.Lock()
		defer mu.Unlock()
		s := in
		s.Checkpoint = maps.Clone(in.Checkpoint)
		return s
	}
	labels := make(map[string]string, len(d.Labels)+8)
	maps.Copy(labels, d.Labels)
	labels[providers.LabelID] = j.hostID
	labels[providers.LabelEnvironment] = a.env
	labels[providers.LabelAddress] = j.c.Address
	labels[providers.LabelIntent] = in.ID
	labels[providers.LabelUser] = a.opts.User
	if a.opts.StateID != "" {
		labels[providers.LabelState] = a.opts.StateID
	}
	labels[providers.LabelOrigin] = originLabel(a.opts.Origin)
	if d.Lease > 0 {
		labels[providers.LabelExpires] = now.Add(d.Lease).UTC().Format(time.RFC3339)
	}
	req.Environment = a.env
	req.Address = j.c.Address
	req.Args = d.Args
	req.Labels = labels
	req.Name = hostName(a.env, j.c.Address, j.hostID)
	req.Lease = d.Lease
	req.Checkpoint = func(_ context.Context, cp providers.Checkpoint) error {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return nil
		}
		if cp.ProviderID != "" {
			in.ProviderID = cp.ProviderID
		}
		if cp.Data != nil {
			in.Checkpoint = maps.Clone(cp.Data)
		}
		in.Updated = a.opts.Now()
		if err := a.store.PutIntents(w, in); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		return nil
	}
	req.Progress = func(msg string) {
		j.event(Event{Kind: EventProgress, Phase: PhaseCheckout, Message: msg})
	}

	var resp providers.CheckoutResponse
	err = j.phase(PhaseCheckout, func() error {
		return j.retry(ctx, func(attempt int) error {
			r := req
			if attempt > 0 {
				// A retry adopts what an earlier attempt made.
				s := snapshot()
				r.Resume = &providers.Resume{IntentID: s.ID, ProviderID: s.ProviderID, Checkpoint: s.Checkpoint}
			}
			var err error
			resp, err = pr.Checkout(ctx, r)
			if err == nil && len(resp.Hosts) == 0 {
				err = errors.New("the provider made no host")
			}
			return err
		})
	})
	mu.Lock()
	closed = true
	mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			j.note("interrupted: the intent stays for the next run to resume or clean up")
			return nil, fmt.Errorf("checkout: %w", err)
		}
		j.cleanupAttempt(ctx, pr, in)
		return nil, fmt.Errorf("checkout: %w", err)
	}
	if resp.Adopted {
		j.note("resumed an interrupted checkout")
	}

	now = a.opts.Now()
	h := j.record(resp.Hosts[0], d, now)
	h.Address = j.c.Address
	var hosts []state.Host
	var extra []string
	for _, info := range resp.Hosts[1:] {
		x := j.record(info, d, now)
		x.ID = state.NewID()
		x.Status = state.StatusReady
		hosts = append(hosts, x)
		extra = append(extra, x.ID)
	}
	if len(extra) > 0 {
		j.note("the provider made %d more hosts, recorded without an address: %s", len(extra), strings.Join(extra, ", "))
	}

	var failed error
	if a.opts.AfterCheckout != nil {
		if err := a.store.Put(w, append([]state.Host{h}, hosts...)...); err != nil {
			return nil, fmt.Errorf("write record: %w", err)
		}
		serr := j.phase(PhaseSetup, func() error {
			return a.opts.AfterCheckout(ctx, &h, j.c, j.event)
		})
		h.ID, h.Environment, h.Address = j.hostID, a.env, j.c.Address
		var keep *KeepError
		switch {
		case serr == nil:
			h.Status, h.Reason = state.StatusReady, ""
		case errors.As(serr, &keep):
			h.Status, h.Reason = state.StatusReady, "setup: "+serr.Error()
			j.note("setup failed, host kept: %v", serr)
		default:
			h.Status, h.Reason = state.StatusTainted, "setup: "+serr.Error()
			failed = fmt.Errorf("setup: %w", serr)
		}
		hosts = nil // written with the pending record
	} else {
		h.Status = state.StatusReady
	}
	// The final record and the end of the intent land together.
	err = a.store.Apply(w, state.Batch{Put: append([]state.Host{h}, hosts...), DeleteIntents: []string{in.ID}})
	if err != nil {
		return &h, fmt.Errorf("write record: %w", err)
	}
	return &h, failed
}

// record makes a pending record of what the provider reported.
func (j *job) record(info providers.HostInfo, d *planner.Desired, now time.Time) state.Host {
	a := j.a
	h := state.Host{
		ID: j.hostID, Environment: a.env,
		Provider: d.Provider, Instance: d.Instance, ProviderID: info.ProviderID,
		Name: info.Name, Hostname: info.Hostname, IP: info.IP, ConnectHost: info.ConnectHost, Port: info.Port, User: info.User,
		Transport: info.Transport,
		Recipe:    maps.Clone(d.Args), Nick: d.Nick, Facts: maps.Clone(info.Facts),
		Labels:    maps.Clone(d.Labels),
		DependsOn: slices.Clone(d.DependsOn),
		Lease:     state.Lease{Duration: d.Lease},
		Status:    state.StatusPending, Origin: a.opts.Origin,
		Created: now, Updated: now,
	}
	if info.Recipe != nil {
		h.Recipe = maps.Clone(info.Recipe)
	}
	h.Lease.Expires = planner.LeaseExpiry(now, d.Lease, info.Expires)
	return h
}

// cleanupAttempt checks in whatever a failed checkout left and deletes
// its intent; the intent stays when that cannot be done.
func (j *job) cleanupAttempt(ctx context.Context, pr providers.Provider, in state.Intent) {
	n, err := j.checkinLeftovers(ctx, pr, in)
	if err != nil {
		j.note("could not clean up after the failed checkout, the intent stays for the next run: %v", err)
		return
	}
	if n > 0 {
		j.note("checked in %d leftovers of the failed checkout", n)
	}
	if err := j.a.store.DeleteIntents(context.WithoutCancel(ctx), in.ID); err != nil {
		j.note("could not delete the intent: %v", err)
	}
}

// checkinLeftovers finds what the attempt of intent in made (by its label
// where the provider can list, and by the checkpoint's provider id) and
// checks it in. It returns how many it checked in.
func (j *job) checkinLeftovers(ctx context.Context, pr providers.Provider, in state.Intent) (int, error) {
	var refs []providers.HostRef
	seen := map[string]bool{}
	add := func(r providers.HostRef) {
		if r.ProviderID == "" || seen[r.ProviderID] {
			return
		}
		seen[r.ProviderID] = true
		refs = append(refs, r)
	}
	if s, ok := pr.(providers.Syncer); ok {
		var resp providers.SyncResponse
		err := j.retry(ctx, func(int) error {
			var err error
			resp, err = s.Sync(ctx, providers.SyncRequest{AllUsers: true, Labels: map[string]string{providers.LabelIntent: in.ID}})
			return err
		})
		if err != nil && !errors.Is(err, providers.ErrNotSupported) {
			return 0, fmt.Errorf("sync: %w", err)
		}
		for _, h := range resp.Hosts {
			add(providers.HostRef{ID: in.HostID, ProviderID: h.ProviderID, Name: h.Name,
				Hostname: h.Hostname, Recipe: in.Recipe, Facts: h.Facts, Labels: h.Labels})
		}
	}
	add(providers.HostRef{ID: in.HostID, ProviderID: in.ProviderID, Recipe: in.Recipe})
	n := 0
	var errs []error
	for _, r := range refs {
		var resp providers.CheckinResponse
		err := j.retry(ctx, func(int) error {
			var err error
			resp, err = pr.Checkin(ctx, providers.CheckinRequest{Environment: in.Environment, Host: r})
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("checkin %s: %w", r.ProviderID, err))
			continue
		}
		if !resp.Gone {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// destroy checks a recorded host in and deletes its record.
func (j *job) destroy(ctx context.Context, before *state.Host) error {
	a := j.a
	w := context.WithoutCancel(ctx)
	pr, err := a.provider(before.Provider, before.Instance)
	if err != nil {
		return err
	}
	now := a.opts.Now()
	in := state.Intent{
		ID: state.NewID(), Environment: before.Environment, Address: before.Address, Op: state.OpDestroy,
		Provider: before.Provider, Instance: before.Instance, HostID: before.ID,
		ProviderID: before.ProviderID, Recipe: before.Recipe, Origin: a.opts.Origin,
		Created: now, Updated: now,
	}
	var resume *providers.Resume
	if r := j.c.Resume; r != nil && r.Op == state.OpDestroy {
		// Take over the interrupted destroy's intent, and what the
		// provider recorded in it (the release it started).
		in.ID, in.Checkpoint = r.ID, maps.Clone(r.Checkpoint)
		if len(r.Checkpoint) > 0 {
			resume = &providers.Resume{IntentID: r.ID, ProviderID: r.ProviderID, Checkpoint: maps.Clone(r.Checkpoint)}
		}
	}
	h := *before
	prev, prevReason := h.Status, h.Reason
	h.Status = state.StatusReleasing
	if err := a.store.Apply(w, state.Batch{Put: []state.Host{h}, PutIntents: []state.Intent{in}}); err != nil {
		return fmt.Errorf("write intent: %w", err)
	}
	if a.opts.BeforeCheckin != nil {
		err := j.phase(PhaseTeardown, func() error { return a.opts.BeforeCheckin(ctx, h, j.event) })
		if err != nil {
			j.note("teardown failed, checking in anyway: %v", err)
		}
	}
	// The provider's checkpoints go into the intent, so that a destroy
	// killed mid-release waits on that release next time rather than
	// starting another; a retry resumes from the latest one.
	var mu sync.Mutex
	checkpoint := func(_ context.Context, cp providers.Checkpoint) error {
		mu.Lock()
		defer mu.Unlock()
		in.Checkpoint = maps.Clone(cp.Data)
		in.Updated = a.opts.Now()
		resume = &providers.Resume{IntentID: in.ID, ProviderID: in.ProviderID, Checkpoint: maps.Clone(cp.Data)}
		if err := a.store.PutIntents(w, in); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		return nil
	}
	var resp providers.CheckinResponse
	err = j.phase(PhaseCheckin, func() error {
		return j.retry(ctx, func(int) error {
			mu.Lock()
			req := providers.CheckinRequest{Environment: h.Environment, Host: hostRef(h), Resume: resume, Checkpoint: checkpoint}
			mu.Unlock()
			var err error
			resp, err = pr.Checkin(ctx, req)
			return err
		})
	})
	if err != nil {
		h.Status = prev
		h.Reason = "checkin: " + err.Error()
		if prevReason != "" {
			h.Reason += " (was: " + prevReason + ")"
		}
		if perr := a.store.Put(w, h); perr != nil {
			return errors.Join(fmt.Errorf("checkin: %w", err), fmt.Errorf("write record: %w", perr))
		}
		if ctx.Err() != nil {
			j.note("interrupted: the intent stays for the next run")
		} else if derr := a.store.DeleteIntents(w, in.ID); derr != nil {
			j.note("could not delete the intent: %v", derr)
		}
		return fmt.Errorf("checkin: %w", err)
	}
	if resp.Gone {
		j.note("already gone, removed from state")
	}
	done := []string{in.ID}
	if r := j.c.Resume; r != nil && r.ID != in.ID && r.HostID == h.ID && r.Op != state.OpDestroy {
		// The interrupted checkout of this very host: its resource was
		// just checked in with the record, so its intent goes too (and a
		// replace's create does not resume from it).
		done = append(done, r.ID)
	}
	if err := a.store.Apply(w, state.Batch{Delete: []string{h.ID}, DeleteIntents: done}); err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	return nil
}

// cleanup checks in what an interrupted run left behind intent in, and
// deletes the intent.
func (j *job) cleanup(ctx context.Context, in *state.Intent) error {
	pr, err := j.a.provider(in.Provider, in.Instance)
	if err != nil {
		return err
	}
	var n int
	err = j.phase(PhaseCheckin, func() error {
		var err error
		n, err = j.checkinLeftovers(ctx, pr, *in)
		return err
	})
	if err != nil {
		return fmt.Errorf("clean up interrupted %s: %w", in.Op, err)
	}
	if n == 0 {
		j.note("the interrupted %s left nothing behind", in.Op)
	} else {
		j.note("checked in %d leftovers of the interrupted %s", n, in.Op)
	}
	if err := j.a.store.DeleteIntents(context.WithoutCancel(ctx), in.ID); err != nil {
		return fmt.Errorf("delete intent: %w", err)
	}
	return nil
}

// extend renews a host's lease, at the provider where it can.
func (j *job) extend(ctx context.Context) (*state.Host, error) {
	a, b := j.a, j.c.Before
	if b == nil {
		return nil, errors.New("extend without a record")
	}
	lease := b.Lease.Duration
	if j.c.After != nil && j.c.After.Lease > 0 {
		lease = j.c.After.Lease
	}
	if lease <= 0 {
		return nil, errors.New("the host has no lease to extend")
	}
	pr, err := a.provider(b.Provider, b.Instance)
	if err != nil {
		return nil, err
	}
	h := *b
	var expires time.Time
	err = j.phase(PhaseExtend, func() error {
		ex, ok := pr.(providers.Extender)
		if ok {
			var resp providers.ExtendResponse
			err := j.retry(ctx, func(int) error {
				var err error
				er := providers.ExtendRequest{Environment: h.Environment, Host: hostRef(h), Lease: lease}
				if a.opts.Session != nil {
					er.Session = func(ctx context.Context) (remote.Session, error) {
						hc := h
						return a.opts.Session(ctx, &hc)
					}
				}
				resp, err = ex.Extend(ctx, er)
				return err
			})
			switch {
			case errors.Is(err, providers.ErrNotSupported):
				ok = false
			case err != nil:
				return err
			default:
				expires = resp.Expires
			}
		}
		// The lease asked for and the provider's own limit both count:
		// the earlier end wins.
		expires = planner.LeaseExpiry(a.opts.Now(), lease, expires)
		if !ok {
			j.note("the provider cannot extend; the lease is extended in state only")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extend: %w", err)
	}
	h.Lease.Expires = expires
	h.Lease.Duration = lease
	h.Lease.Extended++
	if err := a.store.Put(context.WithoutCancel(ctx), h); err != nil {
		return nil, fmt.Errorf("write record: %w", err)
	}
	return &h, nil
}

// newHostID is the id of the record a create will make: the interrupted
// checkout's when resuming one, else a fresh one.
func newHostID(c planner.Change) string {
	if r := createResume(c); r != nil && r.HostID != "" {
		return r.HostID
	}
	return state.NewID()
}

// createResume is the interrupted checkout a create picks up, if any: not
// a destroy's intent, and not the checkout of the record a replace has just
// checked in (what it made is gone).
func createResume(c planner.Change) *state.Intent {
	r := c.Resume
	if r == nil || (r.Op != "" && r.Op != state.OpCreate) {
		return nil
	}
	if c.Before != nil && r.HostID == c.Before.ID {
		return nil
	}
	return r
}

func hostRef(h state.Host) providers.HostRef {
	return providers.HostRef{ID: h.ID, ProviderID: h.ProviderID, Name: h.Name, Hostname: h.Hostname,
		Recipe: h.Recipe, Facts: h.Facts, Labels: h.Labels}
}

// originLabel is user@machine, or the CI job's URL.
func originLabel(o state.Origin) string {
	switch {
	case o.CI != "":
		return o.CI
	case o.Machine != "" && o.User != "":
		return o.User + "@" + o.Machine
	case o.Machine != "":
		return o.Machine
	}
	return o.User
}

// hostName suggests a resource name: environment-web-0 for host.web[0],
// environment-<id tail> for a host without an address. Only a-z, 0-9 and
// single dashes, at most 63 characters (a DNS label).
func hostName(env, addr, id string) string {
	addr = strings.TrimPrefix(addr, "host.")
	if addr == "" {
		addr = id[max(0, len(id)-8):]
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(env + "-" + addr) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}
