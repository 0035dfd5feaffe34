package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// DefaultExecParallelism is how many hosts `broker exec` and `broker cp`
// work on at once unless told otherwise.
const DefaultExecParallelism = 50

// Exit statuses of a fan-out that no remote command gave.
const (
	// ExitUnreachable is a host that could not be reached, as ssh(1) exits.
	ExitUnreachable = 255
	// ExitTimeout is a command stopped by the per-host timeout, as
	// timeout(1) exits.
	ExitTimeout = 124
)

// ExecOutcome is how one host's command ended.
type ExecOutcome int

const (
	// ExecOK: the command ran and exited 0.
	ExecOK ExecOutcome = iota
	// ExecFailed: the command ran and exited non-zero, was killed, or
	// timed out.
	ExecFailed
	// ExecUnreachable: no session could be opened (no transport, nothing
	// listening, authentication or host key refused), or the connection
	// was lost before the command's end was seen.
	ExecUnreachable
)

var outcomeNames = [...]string{"ok", "failed", "unreachable"}

func (o ExecOutcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// ExecRequest is one command to run on many hosts.
type ExecRequest struct {
	Hosts   []state.Host
	Command string
	// Parallelism bounds the hosts worked on at once; 0: DefaultExecParallelism.
	Parallelism int
	// Timeout bounds each host's command; 0: none.
	Timeout time.Duration
	// Stdin, if not nil, is sent to every host's command (read once by the
	// caller, broadcast here).
	Stdin []byte
	// Manifest, if set, supplies the connection blocks of hosts whose
	// address it declares.
	Manifest *manifest.Config
	// Output, if set, gives the writers a host's output streams to; nil
	// writers (or no Output) capture it into the result.
	Output func(i int, h state.Host) (stdout, stderr io.Writer)
	// Done, if set, is called as each host finishes (from its goroutine).
	Done func(r ExecResult)
}

// ExecResult is one host's outcome.
type ExecResult struct {
	// Index is the host's position in ExecRequest.Hosts.
	Index   int
	Host    state.Host
	Outcome ExecOutcome
	// Status is the command's exit status; ExitUnreachable or ExitTimeout
	// where the command gave none, -1 when killed by a signal.
	Status         int
	Stdout, Stderr string
	Duration       time.Duration
	// Err is why the host was unreachable or the command did not finish.
	Err error
	// Skipped lists what a copy left out (links leaving the copied tree,
	// devices, pipes, sockets), for the user to be warned.
	Skipped []remote.Skip
}

// ExitCode is the process exit code a result stands for.
func (r ExecResult) ExitCode() int {
	switch {
	case r.Outcome == ExecUnreachable:
		return ExitUnreachable
	case r.Status < 0:
		return ExitUnreachable
	}
	return r.Status
}

// ExecSummary counts outcomes.
type ExecSummary struct {
	Hosts, OK, Failed, Unreachable int
	// ExitCode is the worst (highest) host's exit code.
	ExitCode int
}

// Summarize counts results.
func Summarize(rs []ExecResult) ExecSummary {
	s := ExecSummary{Hosts: len(rs)}
	for _, r := range rs {
		switch r.Outcome {
		case ExecOK:
			s.OK++
		case ExecFailed:
			s.Failed++
		case ExecUnreachable:
			s.Unreachable++
		}
		s.ExitCode = max(s.ExitCode, r.ExitCode())
	}
	return s
}

func (s ExecSummary) String() string {
	noun := "hosts"
	if s.Hosts == 1 {
		noun = "host"
	}
	return fmt.Sprintf("%d %s: %d ok, %d failed, %d unreachable", s.Hosts, noun, s.OK, s.Failed, s.Unreachable)
}

// Exec runs req.Command on every host, req.Parallelism at a time, through
// pooled sessions (a host's connection is shared by everything this App
// runs on it). It returns one result per host, in req.Hosts order; a host
// that fails never stops the others.
func (a *App) Exec(ctx context.Context, req ExecRequest) []ExecResult {
	return a.fanOut(ctx, req.Hosts, req.Parallelism, req.Manifest, req.Done, func(ctx context.Context, i int, h *state.Host, sess remote.Session, r *ExecResult) {
		opts := remote.RunOptions{Timeout: req.Timeout}
		if req.Stdin != nil {
			opts.Stdin = bytes.NewReader(req.Stdin)
		}
		if req.Output != nil {
			opts.Stdout, opts.Stderr = req.Output(i, *h)
		}
		res, err := sess.Run(ctx, req.Command, opts)
		r.Status, r.Stdout, r.Stderr = res.Status, res.Stdout, res.Stderr
		var te *remote.TimeoutError
		switch {
		case errors.As(err, &te):
			r.Outcome, r.Status, r.Err = ExecFailed, ExitTimeout, err
		case err != nil:
			r.Outcome, r.Status, r.Err = ExecUnreachable, ExitUnreachable, err
		case res.Status != 0:
			r.Outcome = ExecFailed
		}
	})
}

// CopyRequest copies files to or from many hosts over SFTP (or the docker
// archive API).
type CopyRequest struct {
	Hosts []state.Host
	// Upload copies Local to Remote on every host; otherwise Remote is
	// downloaded from every host into Local, or, with more than one host,
	// into Local/<label>/ with labels from HostLabels.
	Upload        bool
	Local, Remote string
	Parallelism   int
	Manifest      *manifest.Config
	Done          func(r ExecResult)
}

// Copy carries out req; results as Exec's (Status 0 or 1, Err the failure).
func (a *App) Copy(ctx context.Context, req CopyRequest) []ExecResult {
	labels := HostLabels(req.Hosts)
	return a.fanOut(ctx, req.Hosts, req.Parallelism, req.Manifest, req.Done, func(ctx context.Context, i int, h *state.Host, sess remote.Session, r *ExecResult) {
		var mu sync.Mutex
		ctx = remote.WithSkipReport(ctx, func(s remote.Skip) {
			mu.Lock()
			defer mu.Unlock()
			r.Skipped = append(r.Skipped, s)
		})
		var err error
		if req.Upload {
			err = sess.Upload(ctx, req.Local, req.Remote)
		} else {
			local := req.Local
			if len(req.Hosts) > 1 {
				dir := filepath.Join(req.Local, filepath.FromSlash(labels[i]))
				local = filepath.Join(dir, path.Base(req.Remote))
				err = os.MkdirAll(dir, 0o755)
			}
			if err == nil {
				err = sess.Download(ctx, req.Remote, local)
			}
		}
		if err != nil {
			r.Outcome, r.Status, r.Err = ExecFailed, 1, err
		}
	})
}

// fanOut opens a session per host and calls do with it, parallelism at a
// time; a host whose session cannot be opened is unreachable. A host key
// pinned on first use is written back to the host's record.
func (a *App) fanOut(ctx context.Context, hosts []state.Host, parallelism int, cfg *manifest.Config, done func(ExecResult),
	do func(ctx context.Context, i int, h *state.Host, sess remote.Session, r *ExecResult)) []ExecResult {
	if parallelism <= 0 {
		parallelism = DefaultExecParallelism
	}
	conns := a.connections(ctx, cfg, hosts)
	results := make([]ExecResult, len(hosts))
	var g errgroup.Group
	g.SetLimit(parallelism)
	for i := range hosts {
		g.Go(func() error {
			h := hosts[i]
			r := &results[i]
			*r = ExecResult{Index: i, Host: h}
			start := time.Now()
			sess, err := a.sessionConn(ctx, &h, conns[i])
			if err != nil {
				r.Outcome, r.Status, r.Err = ExecUnreachable, ExitUnreachable, err
			} else {
				do(ctx, i, &h, sess, r)
			}
			r.Duration = time.Since(start)
			if r.Err != nil {
				a.Logger.Warn("remote", "host", h.Label(), "outcome", r.Outcome.String(), "error", r.Err)
			}
			if done != nil {
				done(*r)
			}
			return nil
		})
	}
	_ = g.Wait()
	return results
}

// connections resolves the manifest's connection blocks for hosts it
// declares (noConnection for those without one); nil entries for the
// rest, which are reached as recorded.
func (a *App) connections(ctx context.Context, cfg *manifest.Config, hosts []state.Host) []*manifest.Connection {
	out := make([]*manifest.Connection, len(hosts))
	if cfg == nil {
		return out
	}
	neighbours := map[string]map[string][]manifest.HostValues{}
	for i, h := range hosts {
		blk, idx := hostBlock(cfg, h.Address)
		if blk == nil {
			continue
		}
		nb, ok := neighbours[h.Environment]
		if !ok && blk.Connection != nil {
			var err error
			if nb, err = a.neighbours(ctx, h.Environment); err != nil {
				a.Logger.Warn("read neighbours for connection blocks", "error", err)
			}
			neighbours[h.Environment] = nb
		}
		c, err := resolveConnection(cfg, blk, idx, Values(h), nb)
		if err != nil {
			a.Logger.Warn("connection block", "host", h.Address, "error", err)
			continue
		}
		out[i] = c
	}
	return out
}

// recordHostKey writes a key pinned on first use into the host's record,
// touching nothing else of it.
func (a *App) recordHostKey(ctx context.Context, h state.Host) {
	st, err := a.Store(ctx)
	if err != nil {
		return
	}
	rec, err := st.Host(ctx, h.ID)
	if err != nil || rec.HostKey != "" {
		return
	}
	rec.HostKey = h.HostKey
	if err := st.Put(ctx, rec); err != nil {
		a.Logger.Warn("record pinned host key", "host", h.Label(), "error", err)
	}
}

// HostLabels names hosts for output prefixes and download directories:
// the address, else the hostname, else the name, after ENVIRONMENT/ when
// the hosts come from several environments; where two hosts would still
// share a label (two pool members on one machine) the port, then the id,
// tells them apart.
func HostLabels(hosts []state.Host) []string {
	envs, _ := ByEnvironment(hosts)
	labels := make([]string, len(hosts))
	count := map[string]int{}
	for i, h := range hosts {
		labels[i] = h.Label()
		if len(envs) > 1 {
			labels[i] = h.Environment + "/" + labels[i]
		}
		count[labels[i]]++
	}
	seen := map[string]int{}
	for i, h := range hosts {
		if count[labels[i]] < 2 {
			continue
		}
		l := labels[i]
		if h.Port != 0 {
			l += ":" + strconv.Itoa(h.Port)
		}
		seen[l]++
		if seen[l] > 1 || h.Port == 0 {
			l = labels[i] + "-" + h.ID
		}
		labels[i] = l
	}
	return labels
}

// RemoteSession opens a session to one host as exec does: the manifest's
// connection block for it (cfg may be nil), the pool, and a host key
// pinned on first use written back to the record.
func (a *App) RemoteSession(ctx context.Context, h state.Host, cfg *manifest.Config) (remote.Session, error) {
	return a.sessionConn(ctx, &h, a.connections(ctx, cfg, []state.Host{h})[0])
}

func (a *App) sessionConn(ctx context.Context, h *state.Host, conn *manifest.Connection) (remote.Session, error) {
	pinned := h.HostKey
	sess, err := a.SessionWith(ctx, h, SessionOptions{Connection: conn, InsecureIgnoreHostKey: a.insecureHostKeys})
	if err != nil {
		return nil, err
	}
	if h.HostKey != pinned {
		a.recordHostKey(ctx, *h)
	}
	return sess, nil
}

// ExitCode turns a remote exit status into a process exit code: a killed
// command (-1) exits 255, as ssh does.
func ExitCode(status int) int {
	if status < 0 || status > 255 {
		return ExitUnreachable
	}
	return status
}
