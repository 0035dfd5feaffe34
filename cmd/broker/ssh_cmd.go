package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/labbroker/broker/executor/remote"
	"github.com/labbroker/broker/internal/app"
)

// SSHCmd opens an interactive shell on one host, or runs one command.
type SSHCmd struct {
	Args []string `arg:"" name:"host" passthrough:"partial" help:"The host (inventory index, hostname, name, id or address), then optionally -- and a command to run instead of a shell."`
	File string   `short:"f" placeholder:"PATH" help:"Manifest: look the host up in its environment and use its current connection block (without -f, the block recorded at apply; a password is never recorded, so a host that logs in with one needs -f)."`
}

// Help is shown by `broker ssh --help`.
func (c *SSHCmd) Help() string {
	return `Opens a shell with a terminal on one host, reached as setup and exec reach
it (SSH with broker's key and pinned host key, or docker exec). On a
terminal the local one is put in raw mode and window size changes follow.
The exit code is the shell's (or the command's); 255 when the host cannot
be reached.

  broker ssh host.satellite[0]
  broker ssh 0 -- journalctl -u sshd --no-pager`
}

// Run opens the shell or runs the command.
func (c *SSHCmd) Run(g *Globals, ctx *interruptContext) error {
	ref, command := c.Args[0], ""
	if len(c.Args) > 1 {
		if c.Args[1] != "--" {
			return app.Hint(fmt.Errorf("more than one host given (%s)", strings.Join(c.Args, " ")), "broker ssh takes one host; use broker exec for many, or put a command after --")
		}
		_, cmd, err := splitCommand(c.Args[1:])
		if err != nil {
			return err
		}
		command = cmd
	}
	a, err := g.open(ctx, "ssh")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	cfg, err := scopeToManifest(g, a, c.File)
	if err != nil {
		return err
	}
	hosts, err := pickRemote(ctx, g, a, []string{ref}, false, false, "")
	if err != nil {
		return err
	}
	if len(hosts) != 1 {
		return app.Hint(fmt.Errorf("%q names %d hosts: %s", ref, len(hosts), strings.Join(app.HostLabels(hosts), ", ")), "name one host, or use broker exec")
	}
	sess, err := a.RemoteSession(ctx, hosts[0], cfg)
	if err != nil {
		return withCode(app.ExitUnreachable, err)
	}
	if command != "" {
		res, err := sess.Run(ctx, command, remote.RunOptions{Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr})
		if err != nil {
			return withCode(app.ExitUnreachable, err)
		}
		if res.Status != 0 {
			return withCode(app.ExitCode(res.Status), nil)
		}
		return nil
	}
	opts := remote.ShellOptions{Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr, Term: os.Getenv("TERM")}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		defer term.Restore(int(f.Fd()), old)
		size := func() remote.WindowSize {
			w, h, err := term.GetSize(int(f.Fd()))
			if err != nil {
				return remote.WindowSize{Width: 80, Height: 24}
			}
			return remote.WindowSize{Width: w, Height: h}
		}
		opts.Size = size()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		resize := make(chan remote.WindowSize, 1)
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case <-winch:
					select {
					case resize <- size():
					case <-done:
						return
					}
				}
			}
		}()
		opts.Resize = resize
	}
	err = sess.Shell(ctx, opts)
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return withCode(app.ExitCode(ee.Status), nil)
	}
	if err != nil {
		return withCode(app.ExitUnreachable, err)
	}
	return nil
}
