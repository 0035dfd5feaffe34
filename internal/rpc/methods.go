package rpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	broker "github.com/labbroker/broker"
	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/manifest"
)

// method is one RPC method. state methods change the state and are
// finished even when the input ends.
type method struct {
	state bool
	call  func(ctx context.Context, s *Server, params json.RawMessage) (any, error)
}

var methods map[string]method

func init() {
	methods = map[string]method{
		"hello":      {call: hello},
		"checkout":   {state: true, call: checkout},
		"checkin":    {state: true, call: checkin},
		"extend":     {state: true, call: extend},
		"inventory":  {call: inventory},
		"execute":    {state: true, call: execute},
		"run":        {call: run},
		"upload":     {call: upload},
		"download":   {call: download},
		"read_file":  {call: readFile},
		"write_file": {call: writeFile},
		"close":      {call: closeHost},
	}
}

func methodNames() string { return strings.Join(slices.Sorted(maps.Keys(methods)), ", ") }

// decode reads params into v, refusing unknown fields (a typo is an
// error, not an argument silently dropped).
func decode(params json.RawMessage, v any) error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(params))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return errorf(CodeInvalidParams, "invalid_params", "params: %v", err)
	}
	return nil
}

func invalid(format string, args ...any) *Error {
	return errorf(CodeInvalidParams, "invalid_params", format, args...)
}

// Host is a host as results give it.
type Host struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Hostname    string            `json:"hostname"`
	IP          string            `json:"ip,omitempty"`
	ConnectHost string            `json:"connect_host,omitempty"`
	Port        int               `json:"port,omitempty"`
	User        string            `json:"user,omitempty"`
	Address     string            `json:"address,omitempty"`
	Environment string            `json:"environment"`
	Provider    string            `json:"provider"`
	Labels      map[string]string `json:"labels,omitempty"`
	Facts       map[string]any    `json:"facts,omitempty"`
	Lease       string            `json:"lease,omitempty"` // RFC 3339; empty: none
}

func (s *Server) remember(hs []*broker.Host) []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Host, 0, len(hs))
	for _, h := range hs {
		if old, ok := s.hosts[h.ID]; ok && old != h {
			// Keep the host whose session is warm.
			h = old
		} else {
			s.hosts[h.ID] = h
		}
		j := Host{
			ID: h.ID, Name: h.Name, Hostname: h.Hostname, IP: h.IP, ConnectHost: h.ConnectHost, Port: h.Port, User: h.User,
			Address: h.Address, Environment: h.Environment, Provider: h.Provider, Labels: h.Labels, Facts: h.Facts,
		}
		if l := h.Lease(); !l.IsZero() {
			j.Lease = l.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	return out
}

// host finds a host by id: one seen before, else the state's record.
func (s *Server) host(ctx context.Context, id string) (*broker.Host, error) {
	if id == "" {
		return nil, invalid("host: want a host id")
	}
	s.mu.Lock()
	h := s.hosts[id]
	s.mu.Unlock()
	if h != nil {
		return h, nil
	}
	hs, err := s.client.Inventory(ctx, fmt.Sprintf("id == %q", id))
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		e := errorf(CodeUnknownHost, "unknown_host", "no host with id %q is recorded", id)
		e.Data.Hint = "it was checked in, or never checked out; `broker inventory` lists the hosts"
		return nil, e
	}
	s.remember(hs)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hosts[id], nil
}

func (s *Server) hostsOf(ctx context.Context, ids []string) ([]*broker.Host, error) {
	if len(ids) == 0 {
		return nil, invalid("hosts: want one or more host ids")
	}
	out := make([]*broker.Host, 0, len(ids))
	for _, id := range ids {
		h, err := s.host(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// hello: {} → {version, directory, environment, methods}.
func hello(_ context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct{}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	return map[string]any{
		"version": s.version, "directory": s.client.Directory(), "environment": s.client.Environment(),
		"methods": slices.Sorted(maps.Keys(methods)),
	}, nil
}

// spec is how checkout and execute name what they want.
type spec struct {
	Nick     string         `json:"nick"`
	Provider string         `json:"provider"` // TYPE or TYPE.INSTANCE
	Args     map[string]any `json:"args"`
	ArgsFile string         `json:"args_file"`
}

// args merges the arguments: args file < args.
func (p spec) args() (map[string]any, error) {
	out := map[string]any{}
	if p.ArgsFile != "" {
		m, err := app.ReadArgsFile(p.ArgsFile)
		if err != nil {
			return nil, app.Hint(fmt.Errorf("args_file: %w", err), "args_file is a JSON or YAML file whose top-level keys are provider arguments")
		}
		maps.Copy(out, m)
	}
	maps.Copy(out, p.Args)
	return out, nil
}

func parseLease(s string) (time.Duration, error) {
	d, err := manifest.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errorf(CodeInvalidParams, "invalid_params", "lease %q: want a positive duration (e.g. 4h, 90m, 1d12h)", s)
	}
	return d, nil
}

// checkout: {nick, provider, args, args_file, count, labels, lease,
// environment} → {hosts}.
func checkout(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		spec
		Count       int               `json:"count"`
		Labels      map[string]string `json:"labels"`
		Lease       string            `json:"lease"`
		Environment string            `json:"environment"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if p.Count == 0 {
		p.Count = 1
	}
	if p.Count < 0 {
		return nil, invalid("count %d: want 1 or more", p.Count)
	}
	args, err := p.args()
	if err != nil {
		return nil, err
	}
	opts := []broker.Option{broker.Args(args)}
	if p.Nick != "" {
		opts = append(opts, broker.Nick(p.Nick))
	}
	if p.Provider != "" {
		opts = append(opts, broker.Provider(p.Provider))
	}
	if len(p.Labels) > 0 {
		opts = append(opts, broker.Labels(p.Labels))
	}
	if p.Lease != "" {
		d, err := parseLease(p.Lease)
		if err != nil {
			return nil, err
		}
		opts = append(opts, broker.Lease(d))
	}
	if p.Environment != "" {
		opts = append(opts, broker.InEnvironment(p.Environment))
	}
	hs, err := s.client.CheckoutN(ctx, p.Count, opts...)
	if err != nil {
		return nil, err
	}
	return map[string]any{"hosts": s.remember(hs)}, nil
}

// checkin: {hosts: [id…]} → {checked_in: [id…], unknown: [id…]}. A host
// no longer recorded (checked in already) is listed as unknown, not an
// error: checking in twice is harmless.
func checkin(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Hosts []string `json:"hosts"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if len(p.Hosts) == 0 {
		return nil, invalid("hosts: want one or more host ids")
	}
	var hs []*broker.Host
	ids, unknown := []string{}, []string{}
	for _, id := range p.Hosts {
		h, err := s.host(ctx, id)
		var e *Error
		if errors.As(err, &e) && e.Code == CodeUnknownHost {
			unknown = append(unknown, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
		ids = append(ids, id)
	}
	if len(hs) > 0 {
		if err := s.client.Checkin(ctx, hs...); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	for _, h := range hs {
		delete(s.hosts, h.ID)
	}
	s.mu.Unlock()
	return map[string]any{"checked_in": ids, "unknown": unknown}, nil
}

// extend: {hosts: [id…], lease} → {hosts}.
func extend(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Hosts []string `json:"hosts"`
		Lease string   `json:"lease"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	var d time.Duration
	if p.Lease != "" {
		var err error
		if d, err = parseLease(p.Lease); err != nil {
			return nil, err
		}
	}
	hs, err := s.hostsOf(ctx, p.Hosts)
	if err != nil {
		return nil, err
	}
	if err := s.client.Extend(ctx, d, hs...); err != nil {
		return nil, err
	}
	return map[string]any{"hosts": s.remember(hs)}, nil
}

// inventory: {filter} → {hosts}.
func inventory(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Filter string `json:"filter"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	hs, err := s.client.Inventory(ctx, p.Filter)
	if err != nil {
		if strings.HasPrefix(err.Error(), "filter ") {
			return nil, errorf(CodeInvalidParams, "invalid_params", "%s", err.Error())
		}
		return nil, err
	}
	return map[string]any{"hosts": s.remember(hs)}, nil
}

// execute: {nick, provider, args, args_file, command, artifacts} →
// {provider, result, status, stdout, stderr}.
func execute(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		spec
		Command   []string `json:"command"`
		Artifacts string   `json:"artifacts"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	args, err := p.args()
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	res, err := s.app.Execute(ctx, app.ExecuteRequest{
		Spec:    app.CheckoutSpec{Nick: p.Nick, Provider: p.Provider, Args: args},
		Command: p.Command, Artifacts: p.Artifacts, Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"provider": res.Provider + "." + res.Instance, "result": res.Result, "status": res.Status,
		"stdout": stdout.String(), "stderr": stderr.String(),
	}, nil
}

// run: {host, command, timeout (seconds), stdin, env} → {status, stdout,
// stderr, duration (seconds), timed_out}.
func run(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Host    string            `json:"host"`
		Command string            `json:"command"`
		Timeout float64           `json:"timeout"`
		Stdin   *string           `json:"stdin"`
		Env     map[string]string `json:"env"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if p.Command == "" {
		return nil, invalid("command: want a command line")
	}
	if p.Timeout < 0 {
		return nil, invalid("timeout %v: want seconds, 0 or more", p.Timeout)
	}
	h, err := s.host(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	o := broker.RunOptions{Env: p.Env, Timeout: time.Duration(p.Timeout * float64(time.Second))}
	if p.Stdin != nil {
		o.Stdin = strings.NewReader(*p.Stdin)
	}
	r := h.RunWith(ctx, p.Command, o)
	out := map[string]any{"status": r.Status, "stdout": r.Stdout, "stderr": r.Stderr, "duration": r.Duration.Seconds(), "timed_out": false}
	if r.Err != nil {
		var te *remote.TimeoutError
		if errors.As(r.Err, &te) {
			out["status"], out["timed_out"] = app.ExitTimeout, true
			return out, nil
		}
		return nil, unreachable(r.Err)
	}
	return out, nil
}

func unreachable(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	out := errorf(CodeUnreachable, "unreachable", "%s", err.Error())
	var hi interface{ Hint() string }
	if errors.As(err, &hi) && hi.Hint() != "" {
		out.Data.Hint = hi.Hint()
		out.Message = strings.TrimSuffix(out.Message, " (hint: "+hi.Hint()+")")
	}
	return out
}

// session opens h's session now (once; it is pooled), so that a failure
// to reach it is an unreachable error rather than a copy error; sim hosts
// fail here with their "no transport" error.
func session(ctx context.Context, h *broker.Host) error {
	if err := h.Connect(ctx); err != nil {
		return unreachable(err)
	}
	return nil
}

type copyParams struct {
	Host   string `json:"host"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
}

// upload: {host, local, remote} → {}: a file or tree, modes kept.
func upload(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	return copyFiles(ctx, s, params, "upload: want local and remote paths", (*broker.Host).Upload)
}

// download: {host, remote, local} → {}.
func download(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	return copyFiles(ctx, s, params, "download: want remote and local paths",
		func(h *broker.Host, ctx context.Context, local, remote string) error {
			return h.Download(ctx, remote, local)
		})
}

// copyFiles is upload and download: transfer(h, ctx, local, remote) copies
// in its direction.
func copyFiles(ctx context.Context, s *Server, params json.RawMessage, want string,
	transfer func(h *broker.Host, ctx context.Context, local, remote string) error) (any, error) {
	var p copyParams
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if p.Local == "" || p.Remote == "" {
		return nil, invalid("%s", want)
	}
	h, err := s.host(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	if err := session(ctx, h); err != nil {
		return nil, err
	}
	return nil, transfer(h, ctx, p.Local, p.Remote)
}

// read_file: {host, path} → {data (base64)}.
func readFile(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Host string `json:"host"`
		Path string `json:"path"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if p.Path == "" {
		return nil, invalid("read_file: want a path")
	}
	h, err := s.host(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	if err := session(ctx, h); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "broker-rpc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "file")
	if err := h.Download(ctx, p.Path, local); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(local)
	if err != nil {
		return nil, fmt.Errorf("read_file %s: %w", p.Path, err)
	}
	return map[string]any{"data": base64.StdEncoding.EncodeToString(b)}, nil
}

// write_file: {host, path, data (base64), mode} → {}; mode defaults to
// 0644, the remote directory must exist.
func writeFile(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Host string  `json:"host"`
		Path string  `json:"path"`
		Data string  `json:"data"`
		Mode *uint32 `json:"mode"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	if p.Path == "" {
		return nil, invalid("write_file: want a path")
	}
	data, err := base64.StdEncoding.DecodeString(p.Data)
	if err != nil {
		return nil, invalid("write_file: data is not base64: %v", err)
	}
	mode := os.FileMode(0o644)
	if p.Mode != nil {
		mode = os.FileMode(*p.Mode) & os.ModePerm
	}
	h, err := s.host(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	if err := session(ctx, h); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "broker-rpc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "file")
	if err := os.WriteFile(local, data, mode); err != nil {
		return nil, err
	}
	if err := os.Chmod(local, mode); err != nil { // past the umask
		return nil, err
	}
	return nil, h.Upload(ctx, local, p.Path)
}

// close: {host} → {}: closes the host's session (the next command opens
// another). The host stays checked out.
func closeHost(ctx context.Context, s *Server, params json.RawMessage) (any, error) {
	var p struct {
		Host string `json:"host"`
	}
	if err := decode(params, &p); err != nil {
		return nil, err
	}
	h, err := s.host(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	return nil, h.Close()
}
