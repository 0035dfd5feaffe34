package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labbroker/broker/state"
)

// janitorElection names the election janitors sharing a state hold.
const janitorElection = "reap"

// JanitorRequest is one reap round, or with Watch a janitor that reaps
// every Interval until it is stopped.
type JanitorRequest struct {
	// Reap is what each round does. Its Stop also stops the janitor
	// between rounds.
	Reap ReapRequest
	// Watch keeps reaping, one round every Interval, until ctx ends or
	// Reap.Stop is closed. With a state backend that elects (bbolt among
	// one machine's processes, etcd among runners), only the leader
	// reaps: the others wait for it to go.
	Watch    bool
	Interval time.Duration
	// Events hears the rounds and the leadership; nil: nobody.
	Events func(JanitorEvent)

	// after is the timer between rounds; nil: time.NewTimer. Tests
	// release rounds with it.
	after func(time.Duration) (<-chan time.Time, func() bool)
}

// JanitorEventKind says what a JanitorEvent reports.
type JanitorEventKind int

const (
	// JanitorWaiting: another janitor leads (Leader); this one
	// campaigns.
	JanitorWaiting JanitorEventKind = iota + 1
	// JanitorLeading: this janitor won the election; Leader is its own
	// lock info.
	JanitorLeading
	// JanitorLost: leadership was lost; the janitor campaigns again.
	JanitorLost
	// JanitorRound: round Round starts at Time.
	JanitorRound
	// JanitorRoundDone: round Round ended with Result (nil if it could
	// not start) and Err. Stopping says the janitor was told to stop
	// during the round, which may be what Err reports.
	JanitorRoundDone
	// JanitorStopped: the janitor stopped after Round rounds; Campaigning
	// says it stopped while waiting for leadership.
	JanitorStopped
)

var janitorEventNames = [...]string{"", "waiting", "leading", "lost", "round", "round-done", "stopped"}

func (k JanitorEventKind) String() string {
	if k > 0 && int(k) < len(janitorEventNames) {
		return janitorEventNames[k]
	}
	return fmt.Sprintf("JanitorEventKind(%d)", int(k))
}

// JanitorEvent is one thing a janitor reports.
type JanitorEvent struct {
	Kind  JanitorEventKind
	Round int
	Time  time.Time
	// Leader is who leads (JanitorWaiting, JanitorLeading).
	Leader state.LockInfo
	// Result and Err are a round's (JanitorRoundDone).
	Result   *ReapResult
	Err      error
	Stopping bool
	// Campaigning is set on JanitorStopped when the janitor was waiting
	// for leadership.
	Campaigning bool
}

// JanitorResult is what a janitor did.
type JanitorResult struct {
	// Rounds is how many rounds ran; Last is the last one's result (nil
	// if there was none, or it could not start).
	Rounds int
	Last   *ReapResult
}

// Janitor reaps (see Reap). Without req.Watch it runs one round and
// returns its error. With req.Watch it runs rounds until ctx ends or
// req.Reap.Stop is closed (the rounds see a context cancelled then, so
// that check-ins in flight finish and nothing new starts) and returns
// nil; a round's error goes to req.Events and the janitor goes on. The
// error is then for what keeps the janitor from running: the state
// backend, or a failed campaign. The result is never nil.
func (a *App) Janitor(ctx context.Context, req JanitorRequest) (*JanitorResult, error) {
	emit := func(e JanitorEvent) {
		if req.Events != nil {
			req.Events(e)
		}
	}
	out := &JanitorResult{}
	if !req.Watch {
		out.Rounds = 1
		emit(JanitorEvent{Kind: JanitorRound, Round: 1, Time: a.opts.Now()})
		res, err := a.Reap(ctx, req.Reap)
		out.Last = res
		emit(JanitorEvent{Kind: JanitorRoundDone, Round: 1, Result: res, Err: err, Stopping: stopped(req.Reap.Stop)})
		return out, err
	}
	if req.Reap.DryRun {
		return out, errors.New("a watching janitor cannot be a dry run")
	}
	if req.Interval <= 0 {
		return out, errors.New("the janitor's interval must be positive")
	}
	after := req.after
	if after == nil {
		after = func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		}
	}
	stopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-req.Reap.Stop:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	st, err := a.Store(ctx)
	if err != nil {
		return out, err
	}
	el, elects := st.(state.Elector)
	for {
		var lost <-chan struct{}
		var lead state.Leadership
		if elects {
			if who, ok, err := el.Leader(stopCtx, janitorElection); err == nil && ok {
				emit(JanitorEvent{Kind: JanitorWaiting, Leader: who, Time: a.opts.Now()})
			}
			lead, err = el.Campaign(stopCtx, janitorElection, a.LockInfo("reap --watch"))
			if stopCtx.Err() != nil {
				if err == nil {
					_ = lead.Resign(context.WithoutCancel(ctx))
				}
				emit(JanitorEvent{Kind: JanitorStopped, Round: out.Rounds, Campaigning: true, Time: a.opts.Now()})
				return out, nil
			}
			if err != nil {
				return out, fmt.Errorf("campaign for leadership: %w", err)
			}
			emit(JanitorEvent{Kind: JanitorLeading, Leader: a.LockInfo("reap --watch"), Time: a.opts.Now()})
			lost = lead.Done()
		}
		for lead == nil || !closed(lost) {
			out.Rounds++
			emit(JanitorEvent{Kind: JanitorRound, Round: out.Rounds, Time: a.opts.Now()})
			res, err := a.Reap(stopCtx, req.Reap)
			out.Last = res
			emit(JanitorEvent{Kind: JanitorRoundDone, Round: out.Rounds, Result: res, Err: err, Stopping: stopCtx.Err() != nil, Time: a.opts.Now()})
			tick, stopTimer := after(req.Interval)
			select {
			case <-stopCtx.Done():
				stopTimer()
				if lead != nil {
					_ = lead.Resign(context.WithoutCancel(ctx))
				}
				emit(JanitorEvent{Kind: JanitorStopped, Round: out.Rounds, Time: a.opts.Now()})
				return out, nil
			case <-lost:
				stopTimer()
				emit(JanitorEvent{Kind: JanitorLost, Round: out.Rounds, Time: a.opts.Now()})
			case <-tick:
			}
		}
	}
}

func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
