package dockerexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/labbroker/broker/executor/remote"
)

// API is the part of the engine client a Session uses; *client.Client
// satisfies it.
type API interface {
	ExecCreate(ctx context.Context, containerID string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
	ExecResize(ctx context.Context, execID string, options client.ExecResizeOptions) (client.ExecResizeResult, error)
	ContainerStatPath(ctx context.Context, containerID string, options client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)
	CopyToContainer(ctx context.Context, containerID string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	CopyFromContainer(ctx context.Context, containerID string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
}

// Options shape a Session.
type Options struct {
	// User runs commands as this user (name, uid or uid:gid); empty: the
	// container's user.
	User string
	// WorkDir is the commands' working directory; empty: the container's.
	WorkDir string
	// Shell is the argv prefix a command line is appended to; empty:
	// /bin/sh -c.
	Shell []string
	// OnClose, if set, is called once by Close (to close a client the
	// session owns).
	OnClose func() error
}

// Session runs commands in one container. It is safe for concurrent use.
type Session struct {
	api       API
	container string
	opts      Options
	closeOnce sync.Once
	closeErr  error
}

var _ remote.Session = (*Session)(nil)

// New returns a session on container (id or name).
func New(api API, container string, opts Options) *Session {
	if len(opts.Shell) == 0 {
		opts.Shell = []string{"/bin/sh", "-c"}
	}
	return &Session{api: api, container: container, opts: opts}
}

// Container is the id or name the session was made with.
func (s *Session) Container() string { return s.container }

// Close ends the session; it calls Options.OnClose once.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		if s.opts.OnClose != nil {
			s.closeErr = s.opts.OnClose()
		}
	})
	return s.closeErr
}

const execIDEnv = "BROKER_EXEC_ID"

func newExecMark() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func envList(env map[string]string, extra ...string) []string {
	out := make([]string, 0, len(env)+len(extra))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return append(out, extra...)
}

// Run runs cmd through the session's shell. A command that ran and failed is
// a Result with its status and a nil error.
func (s *Session) Run(ctx context.Context, cmd string, opts remote.RunOptions) (remote.Result, error) {
	start := time.Now()
	res := remote.Result{Status: -1}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	mark := newExecMark()
	argv := append(slices.Clone(s.opts.Shell), cmd)
	created, err := s.api.ExecCreate(ctx, s.container, client.ExecCreateOptions{
		User:         s.opts.User,
		WorkingDir:   s.opts.WorkDir,
		Env:          envList(opts.Env, execIDEnv+"="+mark),
		Cmd:          argv,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return res, fmt.Errorf("create exec in container %s: %w", s.container, err)
	}
	att, err := s.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return res, fmt.Errorf("start exec in container %s: %w", s.container, err)
	}
	defer att.Close()
	// The hijacked stream ignores ctx once open: close it when ctx ends.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	}

	var outBuf, errBuf bytes.Buffer
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = &outBuf
	}
	if stderr == nil {
		stderr = &errBuf
	}
	_, copyErr := stdcopy.StdCopy(stdout, stderr, att.Reader)
	res.Stdout, res.Stderr = outBuf.String(), errBuf.String()
	res.Duration = time.Since(start)
	if ctxErr := ctx.Err(); ctxErr != nil {
		s.kill(mark)
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			// The same error as an SSH session's, so that exec reports
			// status 124 on every transport.
			return res, &remote.TimeoutError{Cmd: cmd, Timeout: opts.Timeout}
		}
		return res, fmt.Errorf("command interrupted: %w", ctxErr)
	}
	if copyErr != nil {
		return res, fmt.Errorf("read output of exec in container %s: %w", s.container, copyErr)
	}
	status, err := s.waitExec(ctx, created.ID)
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	res.Status = status
	return res, nil
}

// waitExec polls the engine until the exec is no longer running (the
// stream can end a moment before the engine records the exit) and returns
// its exit code.
func (s *Session) waitExec(ctx context.Context, execID string) (int, error) {
	delay := 5 * time.Millisecond
	for {
		in, err := s.api.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return -1, fmt.Errorf("inspect exec in container %s: %w", s.container, err)
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return -1, fmt.Errorf("wait for exec in container %s: %w", s.container, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// kill kills, best effort, every process in the container whose
// environment carries mark.
func (s *Session) kill(mark string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	script := `for p in /proc/[0-9]*; do ` +
		`if tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "` + execIDEnv + `=$1"; then kill -9 "${p#/proc/}" 2>/dev/null; fi; ` +
		`done; true`
	created, err := s.api.ExecCreate(ctx, s.container, client.ExecCreateOptions{
		User:         "0",
		Cmd:          []string{"/bin/sh", "-c", script, "broker-kill", mark},
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return
	}
	att, err := s.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return
	}
	defer att.Close()
	_, _ = io.Copy(io.Discard, att.Reader)
}
