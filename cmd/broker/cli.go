package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/redact"
	_ "github.com/labbroker/broker/providers/all"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Globals are the flags every command takes.
type Globals struct {
	BrokerDirectory string `name:"broker-directory" env:"BROKER_DIRECTORY" placeholder:"DIR" help:"Where broker keeps its settings (broker.hcl), state and logs (default: ~/.broker)."`
	Environment     string `short:"e" env:"BROKER_ENVIRONMENT" placeholder:"NAME" help:"Environment (namespace of hosts) to act on; overrides the manifest's environment attribute. Without it, commands act on the manifest's environment (-f), else \"default\"; inventory lists every environment."`
	LogLevel        string `name:"log-level" placeholder:"LEVEL" help:"How much to log to the log file: trace, debug, info, warning, error or silent (default: the settings' logging block, else info)."`
	LogFile         string `name:"log-file" placeholder:"FILE" help:"Log file (default: <broker-directory>/logs/broker.log)."`
	OutputFile      string `name:"output-file" placeholder:"FILE" help:"Write what the command did to FILE as one JSON object, as the Python broker does (hosts, inventory or output, return_code, error_message on failure); overwritten."`
	NoColor         bool   `name:"no-color" help:"Never colour output (also: NO_COLOR in the environment)."`

	// Unsafe: for throwaway hosts whose keys change with every rebuild.
	InsecureIgnoreHostKey bool `name:"insecure-ignore-host-key" help:"UNSAFE: accept any SSH host key, pinned or not (anyone between you and the host can pose as it). For throwaway hosts only."`

	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	// secrets are the sensitive values the App has seen, masked in
	// errors, --output-file and reports.
	secrets *redact.Secrets
	// output is the --output-file document (writeOutput).
	output map[string]any
	// detached: the command went on in a background process.
	detached bool
	// console is stderr shared by the progress display and notices.
	console *console
}

// CLI is the whole command line.
type CLI struct {
	Globals

	Validate   ValidateCmd   `cmd:"" help:"Check a manifest for errors without contacting any provider."`
	Fmt        FmtCmd        `cmd:"" help:"Rewrite manifests in canonical format."`
	Plan       PlanCmd       `cmd:"" help:"Show what apply would change: check out (+), extend (~), check in (-), replace (-/+), run actions (+ run)."`
	Apply      ApplyCmd      `cmd:"" help:"Make the environment match the manifest (or apply a saved plan)."`
	Destroy    DestroyCmd    `cmd:"" help:"Check in every host the manifest's environment holds."`
	Inventory  InventoryCmd  `cmd:"" help:"List the hosts broker has checked out."`
	Exec       ExecCmd       `cmd:"" help:"Run a command on many hosts at once: prefixed, grouped or JSON output; exit code of the worst host."`
	SSH        SSHCmd        `cmd:"" name:"ssh" help:"Open a shell on one host (or run a command with -- CMD)."`
	Cp         CpCmd         `cmd:"" help:"Copy files and trees to or from hosts over SFTP: broker cp SRC SELECTOR:PATH, or back."`
	Show       ShowCmd       `cmd:"" help:"Show a saved plan file or one host's record."`
	Output     OutputCmd     `cmd:"" help:"Print the values of the manifest's output blocks saved by the last apply."`
	Checkout   CheckoutCmd   `cmd:"" help:"Check hosts out imperatively (the Python broker's command line)."`
	Checkin    CheckinCmd    `cmd:"" help:"Check hosts in by inventory index, hostname, name or filter."`
	Extend     ExtendCmd     `cmd:"" help:"Extend hosts' leases."`
	Duplicate  DuplicateCmd  `cmd:"" help:"Check out more hosts made like recorded ones."`
	Execute    ExecuteCmd    `cmd:"" help:"Run a provider action that makes no host (a workflow, a one-off container)."`
	Providers  ProvidersCmd  `cmd:"" help:"List providers, their actions and arguments."`
	Config     ConfigCmd     `cmd:"" help:"View, validate, create or import broker's settings (broker.hcl)."`
	Version    VersionCmd    `cmd:"" help:"Print broker's version."`
	RPC        RPCCmd        `cmd:"" name:"rpc" help:"Serve broker over JSON-RPC on stdin/stdout (for the Python package)."`
	Completion CompletionCmd `cmd:"" help:"Print a shell completion script (bash, zsh or fish)."`

	// Leases and cleanup.
	Reap    ReapCmd    `cmd:"" help:"Check in expired hosts, clean up after dead runs, list or remove orphaned resources."`
	Taint   TaintCmd   `cmd:"" help:"Mark hosts for replacement by the next apply."`
	Untaint UntaintCmd `cmd:"" help:"Take the taint mark off hosts."`
	Import  ImportCmd  `cmd:"" help:"Adopt an existing resource into an environment at a manifest address."`
	State   StateCmd   `cmd:"" help:"Look at and repair the state: list, show, rm, unlock, migrate between bolt and etcd."`
}

const description = `broker checks hosts out of the services that lend them, runs commands on
them and checks them in again. Describe the hosts a test suite needs in an
HCL manifest, then:

  broker plan  -f lab.hcl     # what would change
  broker apply -f lab.hcl     # check hosts out, set them up
  broker inventory            # what you hold
  broker destroy -f lab.hcl   # check everything in

Exit codes: 0 success; 1 error; 2 plan --detailed-exitcode found changes;
3 the environment is locked by another broker; 130 interrupted.`

// Main runs broker with args and returns the exit code.
func Main(args []string) int {
	return run(args, os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cli CLI
	cli.stdin, cli.stdout, cli.stderr, cli.lookupEnv = stdin, stdout, stderr, lookupEnv
	cli.secrets = redact.New()
	cli.console = newConsole(stderr)
	exit := -1
	parser, err := newParser(&cli, stdout, stderr, func(code int) { exit = code; panic(exitPanic{}) })
	if err != nil {
		return report(stderr, err, cli.secrets)
	}
	args = terraformStyle(args, longFlags(parser.Model.Node))
	args = versionFlag(args, parser.Model.Node)

	code, done := func() (code int, done bool) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(exitPanic); ok {
					code, done = exit, true
					return
				}
				panic(r)
			}
		}()
		kctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintf(stderr, "broker: error: %s\n", err)
			if cmd := commandOf(kctx, parser.Model.Node, args); cmd != "" {
				fmt.Fprintf(stderr, "hint: run `broker %s --help` for its usage\n", cmd)
			} else {
				fmt.Fprintln(stderr, "hint: run `broker --help` for the list of commands")
			}
			return exitError, true
		}
		if exit >= 0 {
			return exit, true
		}
		name := strings.Fields(kctx.Command())[0]
		ctx, stop := newInterruptContext(cli.console, changesNothing[name])
		defer stop()
		if changesNothing[name] {
			err = untilInterrupted(ctx, func() error { return kctx.Run(&cli.Globals, ctx) })
		} else {
			err = kctx.Run(&cli.Globals, ctx)
		}
		code = report(stderr, err, cli.secrets)
		if oerr := finishOutput(&cli.Globals, code, err); oerr != nil {
			fmt.Fprintf(stderr, "broker: error: %s\n", oerr)
			if code == exitOK {
				code = exitError
			}
		}
		return code, true
	}()
	if done {
		return code
	}
	return exitOK
}

// newParser is broker's command line; exit is called where kong would
// exit (after --help, --version).
func newParser(cli *CLI, stdout, stderr io.Writer, exit func(int)) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("broker"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(exit),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, Summary: true}),
		kong.Vars{"version": version},
	)
}

type exitPanic struct{}

// commandOf names the command a failed parse was for, with its
// subcommand ("state rm"): from kong's context when it got that far, else
// the leading words of args that name commands.
func commandOf(kctx *kong.Context, root *kong.Node, args []string) string {
	if kctx != nil && kctx.Command() != "" {
		var words []string
		for _, w := range strings.Fields(kctx.Command()) {
			if !strings.HasPrefix(w, "<") {
				words = append(words, w)
			}
		}
		return strings.Join(words, " ")
	}
	var words []string
	n := root
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		var next *kong.Node
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && (c.Name == a || slices.Contains(c.Aliases, a)) {
				next = c
			}
		}
		if next == nil {
			continue // a flag's value
		}
		words = append(words, next.Name)
		n = next
	}
	return strings.Join(words, " ")
}

// longFlags collects every long flag name in the command tree.
func longFlags(n *kong.Node) map[string]bool {
	m := map[string]bool{}
	var walk func(*kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			for _, name := range append([]string{f.Name}, f.Aliases...) {
				if len(name) > 1 {
					m[name] = true
				}
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return m
}

// interruptContext is the two-stage interrupt: the first signal closes
// Stop (stop scheduling, finish what is in flight and record it), the
// second cancels the context (in-flight calls are cancelled, outcomes still
// recorded).
type interruptContext struct {
	context.Context
	Stop <-chan struct{}
}

// changesNothing are the commands that neither change nor record anything:
// the first interrupt ends them at once, wherever they are (reading,
// decoding or planning), as there is nothing to finish.
var changesNothing = map[string]bool{"validate": true, "plan": true}

// untilInterrupted runs run, or returns as soon as ctx is cancelled: the
// work left behind ends with the process.
func untilInterrupted(ctx context.Context, run func() error) error {
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return silentError{code: exitInterrupted}
		}
	}
}

// newInterruptContext handles SIGINT and SIGTERM; with once, the first
// signal cancels the context (commands that change nothing). Its notices
// go through the console, above a live progress display.
func newInterruptContext(con *console, once bool) (*interruptContext, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stopCh := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
				n++
				if once {
					con.say("broker: interrupted")
					close(stopCh)
					cancel()
					return
				}
				if n == 1 {
					con.say("broker: interrupted: finishing what is in flight, starting nothing new (" + con.again() + " to cancel it)")
					close(stopCh)
				} else {
					con.say("broker: interrupted again: cancelling what is in flight")
					cancel()
					return
				}
			}
		}
	}()
	return &interruptContext{Context: ctx, Stop: stopCh}, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// color reports whether to colour output written to w.
func (g *Globals) color(w io.Writer) bool {
	if g.NoColor {
		return false
	}
	if v, ok := g.lookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	return isTerminal(w)
}

// open makes the application object every command works through.
func (g *Globals) open(ctx context.Context, command string) (*app.App, error) {
	a, err := app.New(ctx, app.Options{
		Directory:   g.BrokerDirectory,
		Environment: g.Environment,
		LogLevel:    g.LogLevel,
		LogFile:     g.LogFile,
		Command:     command,
		Stderr:      g.stderr,
		LookupEnv:   g.lookupEnv,
		Prompt:      g.prompt,
		Secrets:     g.secrets,
	})
	if err == nil {
		a.SetInsecureHostKeys(g.InsecureIgnoreHostKey)
	}
	return a, err
}

// prompt asks on the terminal the command runs on (stdin and stderr);
// secret answers are not echoed.
func (g *Globals) prompt(question string, secret bool) (string, error) {
	in, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", app.ErrNoPrompt
	}
	fmt.Fprint(g.stderr, question)
	if secret {
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(g.stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

var errNoConfirm = errors.New("refusing to change anything without confirmation: standard input is not a terminal")
