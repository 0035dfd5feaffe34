package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/filter"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/state"
)

// ExecCmd runs a command on many hosts at once.
type ExecCmd struct {
	// Args are the hosts, then "--", then the command. One positional
	// list, because kong allows one list: split by splitCommand.
	Args []string `arg:"" optional:"" name:"host" passthrough:"partial" help:"Hosts (inventory index, hostname, name, id, address such as host.web[0], or host.web for every instance), then -- and the command."`
	All  bool     `help:"Every host of the environment (-e, else the manifest's with -f, else BROKER_ENVIRONMENT, else \"default\"); with --filter: every matching host."`

	AllEnvironments bool `name:"all-environments" help:"With --all or --filter: every environment's hosts, not one environment's."`

	Filter      string        `placeholder:"EXPR" help:"Only hosts matching this filter, e.g. 'labels.role == \"client\"'; alone, it selects every matching host."`
	File        string        `short:"f" placeholder:"PATH" help:"Manifest: scope the selection to its environment and use its hosts' current connection blocks (without -f, the blocks recorded at apply; a password is never recorded, so a host that logs in with one needs -f)."`
	Parallelism int           `short:"p" default:"50" help:"Hosts worked on at once."`
	Timeout     time.Duration `placeholder:"DURATION" help:"Per-host limit on the command (e.g. 30s); a host that passes it fails with status 124, the others go on."`
	Stdin       bool          `help:"Read standard input once and send it to every host's command."`
	Group       bool          `help:"Print each host's output as one block when it finishes, instead of interleaved [host]-prefixed lines."`
	JSON        bool          `name:"json" help:"Print one JSON object per host (host, address, status, exit_status, stdout, stderr, duration, error) as a JSON array."`
	reportFlags
}

// Help is shown by `broker exec --help`.
func (c *ExecCmd) Help() string {
	return `Runs a command on the selected hosts at once (-p of them at a time) and
prints their output line by line with a [host] prefix, or grouped per host
(--group), or as JSON (--json). A summary goes to stderr:

  50 hosts: 48 ok, 1 failed, 1 unreachable

The exit code is the worst host's: its command's status, 124 for a host
whose command passed --timeout, 255 for a host that could not be reached
(as ssh exits). Hosts are reached as setup reaches them: SSH with broker's
key (one connection per host, shared by everything the run does on it), or
the docker exec API for containers without SSH.

  broker exec --filter 'labels.role == "client"' -- uname -r
  broker exec -f lab.hcl host.client -- 'systemctl is-active sshd'
  broker exec --all --json -- cat /etc/os-release > results.json
  echo hello | broker exec --all --stdin -- cat`
}

// splitCommand splits the positional list at the first "--" into host
// references and the command line.
func splitCommand(args []string) (refs []string, command string, err error) {
	i := -1
	for j, a := range args {
		if a == "--" {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, "", app.Hint(errors.New("no command given"), "put the command after --, e.g. broker exec --all -- uname -r")
	}
	refs, words := args[:i], args[i+1:]
	for _, r := range refs {
		if strings.HasPrefix(r, "-") {
			return nil, "", app.Hint(fmt.Errorf("flag %s after the first host", r), "put flags before the hosts: broker exec -p 10 host.web -- CMD")
		}
	}
	if len(words) == 0 {
		return nil, "", app.Hint(errors.New("no command given after --"), "broker exec --all -- uname -r")
	}
	if len(words) == 1 {
		return refs, words[0], nil // one word: a shell command line as written
	}
	quoted := make([]string, len(words))
	for k, w := range words {
		quoted[k] = shellWord(w)
	}
	return refs, strings.Join(quoted, " "), nil
}

// shellWord quotes w for the remote shell unless it needs none.
func shellWord(w string) string {
	if w != "" && strings.IndexFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return w
	}
	return remote.ShellQuote(w)
}

// lateFlags takes exec's own flags written after the first host (kong
// stops parsing flags at the first positional of a passthrough list) out
// of args and applies them.
func (c *ExecCmd) lateFlags(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, val, hasVal := strings.Cut(a, "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) || args[i+1] == "--" {
				return "", fmt.Errorf("flag %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "--json":
			c.JSON = true
		case "--group":
			c.Group = true
		case "--stdin":
			c.Stdin = true
		case "--all":
			c.All = true
		case "-p", "--parallelism":
			var v string
			if v, err = value(); err == nil {
				c.Parallelism, err = strconv.Atoi(v)
			}
		case "--timeout":
			var v string
			if v, err = value(); err == nil {
				c.Timeout, err = time.ParseDuration(v)
			}
		case "--filter":
			c.Filter, err = value()
		case "-f", "--file":
			c.File, err = value()
		default:
			out = append(out, a)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

// Run runs the command.
func (c *ExecCmd) Run(g *Globals, ctx *interruptContext) error {
	args, err := c.lateFlags(c.Args)
	if err != nil {
		return err
	}
	refs, command, err := splitCommand(args)
	if err != nil {
		return err
	}
	a, err := g.open(ctx, "exec")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	cfg, err := scopeToManifest(g, a, c.File)
	if err != nil {
		return err
	}
	hosts, err := pickRemote(ctx, g, a, refs, c.All, c.AllEnvironments, c.Filter)
	if err != nil {
		return err
	}
	req := app.ExecRequest{Hosts: hosts, Command: command, Parallelism: c.Parallelism, Timeout: c.Timeout, Manifest: cfg}
	obs, finishReport, err := c.reportFlags.observer(nil, g.secrets, "exec", execEnvironment(hosts))
	if err != nil {
		return err
	}
	defer func() { _ = finishReport() }()
	if c.Stdin {
		b, err := io.ReadAll(g.stdin)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		req.Stdin = b
	}
	labels := app.HostLabels(hosts)
	var mu sync.Mutex // one host's block or line at a time
	started := time.Now()
	if obs != nil {
		for i, h := range hosts {
			obs.Event(executor.Event{Time: started, Kind: executor.EventPhaseStart, Address: labels[i], HostID: h.ID, Phase: executor.PhaseExec, Message: command})
		}
	}
	switch {
	case c.JSON:
	case c.Group:
		req.Done = func(r app.ExecResult) {
			mu.Lock()
			defer mu.Unlock()
			writeGroup(g, labels[r.Index], r)
		}
	default:
		outs := make([][2]*prefixWriter, len(hosts))
		req.Output = func(i int, h state.Host) (io.Writer, io.Writer) {
			o := &prefixWriter{mu: &mu, w: g.stdout, prefix: "[" + labels[i] + "] "}
			e := &prefixWriter{mu: &mu, w: g.stderr, prefix: "[" + labels[i] + "] "}
			mu.Lock()
			outs[i] = [2]*prefixWriter{o, e}
			mu.Unlock()
			return o, e
		}
		req.Done = func(r app.ExecResult) {
			mu.Lock()
			defer mu.Unlock()
			for _, w := range outs[r.Index] {
				if w != nil {
					w.flushLocked()
				}
			}
			if r.Err != nil {
				fmt.Fprintf(g.stderr, "[%s] broker: %s: %v\n", labels[r.Index], r.Outcome, r.Err)
				for _, h := range hints(r.Err) {
					fmt.Fprintf(g.stderr, "[%s] hint: %s\n", labels[r.Index], h)
				}
			}
		}
	}
	// Commands have nothing to finish and record: the first interrupt
	// cancels them, as it would an ssh session.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Stop:
			cancel()
		case <-runCtx.Done():
		}
	}()
	if obs != nil {
		done := req.Done
		req.Done = func(r app.ExecResult) {
			if done != nil {
				done(r)
			}
			reportExec(obs, labels[r.Index], r)
		}
	}
	results := a.Exec(runCtx, req)
	sum := app.Summarize(results)
	if c.JSON {
		if err := writeExecJSON(g.stdout, labels, results); err != nil {
			return err
		}
	}
	fmt.Fprintln(g.stderr, sum.String())
	if err := writeOutput(g, map[string]any{"command": "exec", "results": execRecords(labels, results)}); err != nil {
		return err
	}
	if err := finishReport(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if sum.ExitCode != 0 {
		return withCode(sum.ExitCode, nil)
	}
	return nil
}

// reportExec tells a --report what one host's command did: a test case
// per host (phase exec), failed with the status and the last line of its
// stderr when the command failed or the host was out of reach.
func reportExec(obs executor.Observer, label string, r app.ExecResult) {
	e := executor.Event{Time: time.Now(), Kind: executor.EventPhaseDone, Address: label, HostID: r.Host.ID, Phase: executor.PhaseExec, Duration: r.Duration}
	if r.Outcome != app.ExecOK {
		msg := fmt.Sprintf("%s (status %d)", r.Outcome, r.ExitCode())
		if r.Err != nil {
			msg += ": " + r.Err.Error()
		} else if last := lastLine(r.Stderr); last != "" {
			msg += ": " + last
		}
		e.Err = msg
	}
	obs.Event(e)
	e.Kind, e.Phase = executor.EventDone, ""
	if e.Err != "" {
		e.Kind = executor.EventFailed
	}
	obs.Event(e)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// execEnvironment names the hosts' environment for a report, or "" when
// they span several.
func execEnvironment(hosts []state.Host) string {
	if envs, _ := app.ByEnvironment(hosts); len(envs) == 1 {
		return envs[0]
	}
	return ""
}

// prefixWriter writes whole lines, each with its prefix, under a shared
// lock, so that hosts' lines never mix; a partial line waits for its end
// (or the host's end).
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	i := bytes.LastIndexByte(p.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(p.buf[:i+1], []byte{'\n'}) {
		if len(line) > 0 {
			out.WriteString(p.prefix)
			out.Write(line)
		}
	}
	p.buf = append(p.buf[:0], p.buf[i+1:]...)
	_, err := p.w.Write(out.Bytes())
	return len(b), err
}

// flushLocked writes a last line that had no newline; p.mu is held.
func (p *prefixWriter) flushLocked() {
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}

// writeGroup prints one host's output as a block.
func writeGroup(g *Globals, label string, r app.ExecResult) {
	head := fmt.Sprintf("== %s: %s", label, r.Outcome)
	switch {
	case r.Outcome == app.ExecUnreachable:
		head += ": " + r.Err.Error()
	case r.Err != nil:
		head += fmt.Sprintf(" (status %d): %v", r.Status, r.Err)
	default:
		head += fmt.Sprintf(" (status %d, %s)", r.Status, r.Duration.Round(time.Millisecond))
	}
	fmt.Fprintln(g.stdout, head)
	io.WriteString(g.stdout, withNewline(r.Stdout))
	if r.Stderr != "" {
		fmt.Fprintf(g.stderr, "== %s: stderr\n%s", label, withNewline(r.Stderr))
	}
}

func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// execRecord is one host in --json and --output-file.
type execRecord struct {
	Host       string  `json:"host"`
	Address    string  `json:"address,omitempty"`
	Hostname   string  `json:"hostname,omitempty"`
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	ExitStatus int     `json:"exit_status"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr"`
	Duration   float64 `json:"duration"`
	Error      string  `json:"error,omitempty"`
}

func execRecords(labels []string, rs []app.ExecResult) []execRecord {
	out := make([]execRecord, len(rs))
	for i, r := range rs {
		out[i] = execRecord{
			Host: labels[i], Address: r.Host.Address, Hostname: r.Host.Hostname, ID: r.Host.ID,
			Status: r.Outcome.String(), ExitStatus: r.ExitCode(), Stdout: r.Stdout, Stderr: r.Stderr,
			Duration: r.Duration.Seconds(),
		}
		if r.Err != nil {
			out[i].Error = r.Err.Error()
		}
	}
	return out
}

func writeExecJSON(w io.Writer, labels []string, rs []app.ExecResult) error {
	b, err := json.MarshalIndent(execRecords(labels, rs), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// scopeToManifest loads the manifest of -f, if given, and makes its
// environment the one selections look in (unless -e said otherwise).
func scopeToManifest(g *Globals, a *app.App, file string) (*manifest.Config, error) {
	if file == "" {
		return nil, nil
	}
	mf := manifestFlags{File: file}
	cfg, err := mf.load(g, a)
	if err != nil {
		return nil, err
	}
	if g.Environment == "" {
		g.Environment = a.Environment(cfg)
	}
	return cfg, nil
}

// pickRemote selects the hosts of exec, ssh and cp: refs as checkin takes
// them, plus host.NAME for every instance of a block; a filter alone
// selects every match.
func pickRemote(ctx context.Context, g *Globals, a *app.App, refs []string, all, allEnvs bool, filterSrc string) ([]state.Host, error) {
	if len(refs) == 0 && filterSrc != "" {
		all = true
	}
	hosts, err := pickHosts(ctx, g, a, app.SelectRequest{Refs: refs, All: all, Filter: filterSrc, Blocks: true}, allEnvs)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, app.Hint(errors.New("no hosts selected"), "see `broker inventory` for what you hold")
	}
	return hosts, nil
}

// resolveSelector selects hosts by one word that is a host reference
// (index, hostname, name, id, address, host.NAME) when the inventory has
// such a host, else a filter expression.
func resolveSelector(ctx context.Context, g *Globals, a *app.App, sel string) ([]state.Host, error) {
	inv, err := inventoryHosts(ctx, g, a, "")
	if err != nil {
		return nil, err
	}
	if app.IsHostRef(sel, inv) {
		return pickRemote(ctx, g, a, []string{sel}, false, false, "")
	}
	if _, _, perr := filter.Parse(sel); perr != nil {
		return nil, app.Hint(fmt.Errorf("%q is neither a host in the inventory nor a filter expression: %v", sel, perr),
			"name a host by index, hostname, name or address (see `broker inventory`), or write a filter such as 'labels.role == \"web\"'")
	}
	return pickRemote(ctx, g, a, nil, true, false, sel)
}
