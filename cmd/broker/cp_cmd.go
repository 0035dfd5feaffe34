package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/labbroker/broker/internal/app"
)

// CpCmd copies files and trees to or from hosts.
type CpCmd struct {
	Src         string `arg:"" name:"src" help:"A local path, or SELECTOR:PATH on hosts."`
	Dst         string `arg:"" name:"dst" help:"A local path, or SELECTOR:PATH on hosts."`
	File        string `short:"f" placeholder:"PATH" help:"Manifest: scope selectors to its environment and use its hosts' current connection blocks (without -f, the blocks recorded at apply; a password is never recorded, so a host that logs in with one needs -f)."`
	Parallelism int    `short:"p" default:"50" help:"Hosts worked on at once."`
}

// Help is shown by `broker cp --help`.
func (c *CpCmd) Help() string {
	return `Copies a file or a directory tree (recursively, keeping modes and
modification times) over SFTP, or the docker archive API for containers
without SSH. One side is SELECTOR:PATH, where SELECTOR is an inventory
index, a hostname, name, id or address (host.web[0], or host.web for every
instance), or a filter expression. Uploads go to every selected host;
downloading from several hosts puts each host's copy into DST/<host>/.
Nothing is written outside DST: symbolic links are copied only when they
stay inside the tree (others, devices, pipes and sockets are skipped with
a warning), and a link found under DST is replaced, never written through.

  broker cp ./app.conf 'labels.role == "web"':/etc/app.conf
  broker cp -f lab.hcl ./conf.d host.web:/etc/app/conf.d
  broker cp 'host.web':/var/log/app ./logs        # ./logs/host.web[0]/app, …`
}

// splitRemote reads SELECTOR:PATH; ok is false for a local path.
func splitRemote(arg string) (sel, path string, ok bool) {
	i := strings.LastIndexByte(arg, ':')
	if i <= 0 {
		return "", "", false
	}
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") {
		return "", "", false
	}
	if _, err := os.Lstat(arg); err == nil {
		return "", "", false
	}
	return arg[:i], arg[i+1:], true
}

// Run copies.
func (c *CpCmd) Run(g *Globals, ctx *interruptContext) error {
	ss, sp, srcRemote := splitRemote(c.Src)
	ds, dp, dstRemote := splitRemote(c.Dst)
	switch {
	case srcRemote && dstRemote:
		return app.Hint(errors.New("both sides are on hosts"), "copy to this machine first, then out again")
	case !srcRemote && !dstRemote:
		return app.Hint(errors.New("neither side names hosts"), "write one side as SELECTOR:PATH, e.g. host.web[0]:/etc/app.conf")
	}
	req := app.CopyRequest{Upload: dstRemote, Parallelism: c.Parallelism}
	sel := ss
	if dstRemote {
		sel, req.Local, req.Remote = ds, c.Src, dp
		if _, err := os.Stat(c.Src); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	} else {
		req.Local, req.Remote = c.Dst, sp
	}
	if req.Remote == "" {
		return fmt.Errorf("%q: empty remote path", sel+":")
	}
	a, err := g.open(ctx, "cp")
	if err != nil {
		return printDiagnostics(g, err)
	}
	defer a.Close()
	if req.Manifest, err = scopeToManifest(g, a, c.File); err != nil {
		return err
	}
	if req.Hosts, err = resolveSelector(ctx, g, a, sel); err != nil {
		return err
	}
	labels := app.HostLabels(req.Hosts)
	var mu sync.Mutex
	req.Done = func(r app.ExecResult) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range r.Skipped {
			fmt.Fprintf(g.stderr, "[%s] broker: warning: %s\n", labels[r.Index], s)
		}
		if r.Err != nil {
			fmt.Fprintf(g.stderr, "[%s] broker: %s: %v\n", labels[r.Index], r.Outcome, r.Err)
		}
	}
	results := a.Copy(ctx, req)
	sum := app.Summarize(results)
	fmt.Fprintln(g.stderr, sum.String())
	if err := writeOutput(g, map[string]any{"command": "cp", "results": execRecords(labels, results)}); err != nil {
		return err
	}
	if sum.ExitCode != 0 {
		return withCode(sum.ExitCode, nil)
	}
	return nil
}
