package dockerexec

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/client"

	"github.com/labbroker/broker/executor/remote"
)

// loginShell starts bash when the image has it, sh otherwise.
const loginShell = `if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi`

// Shell runs an interactive login shell in an exec with a TTY until it
// exits; a non-zero exit status is returned as an error.
func (s *Session) Shell(ctx context.Context, opts remote.ShellOptions) error {
	term := opts.Term
	if term == "" {
		term = "xterm-256color"
	}
	size := client.ConsoleSize{Height: uint(max(opts.Size.Height, 0)), Width: uint(max(opts.Size.Width, 0))}
	if size.Height == 0 || size.Width == 0 {
		size = client.ConsoleSize{}
	}
	created, err := s.api.ExecCreate(ctx, s.container, client.ExecCreateOptions{
		User:         s.opts.User,
		WorkingDir:   s.opts.WorkDir,
		TTY:          true,
		ConsoleSize:  size,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		Env:          []string{"TERM=" + term},
		Cmd:          []string{"/bin/sh", "-c", loginShell},
	})
	if err != nil {
		return fmt.Errorf("create shell exec in container %s: %w", s.container, err)
	}
	att, err := s.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: true, ConsoleSize: size})
	if err != nil {
		return fmt.Errorf("start shell in container %s: %w", s.container, err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	done := make(chan struct{})
	defer close(done)
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case ws, ok := <-opts.Resize:
					if !ok {
						return
					}
					if ws.Width > 0 && ws.Height > 0 {
						_, _ = s.api.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: uint(ws.Height), Width: uint(ws.Width)})
					}
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	}
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	// With a TTY the engine sends one raw stream (stderr is merged by the
	// terminal).
	_, copyErr := io.Copy(out, att.Reader)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shell interrupted: %w", err)
	}
	if copyErr != nil {
		return fmt.Errorf("shell in container %s: %w", s.container, copyErr)
	}
	status, err := s.waitExec(ctx, created.ID)
	if err != nil {
		return err
	}
	if status != 0 {
		return fmt.Errorf("shell exited with status %d", status)
	}
	return nil
}
