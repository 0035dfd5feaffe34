package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// backgroundEnv marks the detached child so it never detaches again.
const backgroundEnv = "BROKER_BACKGROUND_CHILD"

// inBackground reports whether this process is the detached child.
func (g *Globals) inBackground() bool {
	v, ok := g.lookupEnv(backgroundEnv)
	return ok && v == "1"
}

// background re-executes broker with the same command line minus -b /
// --background, detached (its own session, stdin from /dev/null,
// stdout and stderr appended to the log file), prints its pid and the log
// file's path, and returns. The child writes "broker: background … finished"
// with its exit status at the end of the log.
func (g *Globals) background(command string) error {
	dir := g.BrokerDirectory
	if dir == "" {
		if d, ok := g.lookupEnv("BROKER_DIRECTORY"); ok && d != "" {
			dir = d
		} else if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".broker")
		}
	}
	logPath := g.LogFile
	if logPath == "" {
		logPath = filepath.Join(dir, "logs", "broker.log")
	}
	if abs, err := filepath.Abs(logPath); err == nil {
		logPath = abs
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find broker's executable: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Args = append([]string{os.Args[0]}, withoutBackground(os.Args[1:])...)
	cmd.Env = append(os.Environ(), backgroundEnv+"=1", "NO_COLOR=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start broker in the background: %w", err)
	}
	g.detached = true
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	fmt.Fprintf(g.stdout, "broker %s running in the background with pid %d\nlog: %s\n", command, pid, logPath)
	return nil
}

// withoutBackground drops -b and --background (before any "--").
func withoutBackground(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "-b" || a == "--background" || a == "-background" || a == "--background=true" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// finishBackground writes the child's last line to its log (stderr).
func (g *Globals) finishBackground(command string, err error) error {
	if !g.inBackground() {
		return err
	}
	code := report(g.stderr, err, g.secrets)
	fmt.Fprintf(g.stderr, "broker: background %s finished (pid %d, exit status %d)\n", command, os.Getpid(), code)
	if err != nil {
		return silentError{code: code}
	}
	return nil
}
