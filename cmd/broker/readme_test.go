package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/labbroker/broker/filter"
)

// TestReadmeExamples parses every broker command line the README shows,
// in its shell blocks and in the backquoted commands of its tables, with
// the real command line, so that a flag the README promises and a command
// does not take (or a filter that does not compile) fails here. Commands
// that run against sim are run for real by the scripts (workflow.txtar,
// daytwo_*.txtar); this test keeps the rest from drifting.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeCommands(string(b))
	if len(lines) < 40 {
		t.Fatalf("found %d broker command lines in the README; the extraction is broken", len(lines))
	}
	for _, l := range lines {
		t.Run(l.text, func(t *testing.T) {
			var cli CLI
			cli.stdin, cli.stdout, cli.stderr = strings.NewReader(""), io.Discard, io.Discard
			exited := false
			parser, err := newParser(&cli, io.Discard, io.Discard, func(int) { exited = true })
			if err != nil {
				t.Fatal(err)
			}
			args := versionFlag(terraformStyle(l.args, longFlags(parser.Model.Node)), parser.Model.Node)
			// Files the examples name do not exist here: only the words matter.
			kctx, err := parser.Parse(args)
			if err != nil && !exited && !strings.Contains(err.Error(), "no such file") {
				t.Fatalf("README.md:%d: %s: %v", l.line, l.text, err)
			}
			// Provider arguments are read by the command itself.
			var raw []rawFlag
			var tokens []string
			if kctx != nil {
				switch strings.Fields(kctx.Command())[0] {
				case "checkout":
					raw, tokens = cli.Checkout.raw(), cli.Checkout.Args
				case "execute":
					raw, tokens = cli.Execute.raw(), cli.Execute.Args
				}
			}
			if raw != nil {
				if _, err := parseRaw(tokens, append(raw, cli.Globals.globalRaw()...)); err != nil {
					t.Errorf("README.md:%d: %s: %v", l.line, l.text, err)
				}
			}
			for i, a := range l.args {
				if a == "--filter" && i+1 < len(l.args) {
					if _, _, err := filter.Parse(l.args[i+1]); err != nil {
						t.Errorf("README.md:%d: --filter %s: %v", l.line, l.args[i+1], err)
					}
				}
			}
		})
	}
}

type readmeCommand struct {
	line int
	text string
	args []string // after "broker"
}

// placeholder marks a line that shows a form, not a command: FILE, ID…,
// [--yes], A|B.
var placeholder = regexp.MustCompile(`…|\[-|\b[A-Z]{2,}\b|\|`)

// readmeCommands finds the broker commands of the README's sh blocks and
// of its backquoted table cells.
func readmeCommands(md string) []readmeCommand {
	var out []readmeCommand
	add := func(n int, cmdline string) {
		for _, seg := range shellCommands(cmdline) {
			if len(seg) == 0 || seg[0] != "broker" {
				continue
			}
			out = append(out, readmeCommand{line: n, text: strings.Join(seg, " "), args: seg[1:]})
		}
	}
	inSh, pending, pendingLine := false, "", 0
	cell := regexp.MustCompile("`(broker [^`]+)`")
	for i, l := range strings.Split(md, "\n") {
		n := i + 1
		if strings.HasPrefix(l, "```") {
			inSh = !inSh && (l == "```sh" || l == "```bash" || l == "```console")
			continue
		}
		if inSh {
			if pending == "" {
				pendingLine = n
			}
			if s, ok := strings.CutSuffix(l, "\\"); ok {
				pending += s + " "
				continue
			}
			add(pendingLine, strings.TrimPrefix(pending+l, "$ "))
			pending = ""
			continue
		}
		if strings.HasPrefix(l, "|") {
			for _, m := range cell.FindAllStringSubmatch(l, -1) {
				if !placeholder.MatchString(m[1]) {
					add(n, m[1])
				}
			}
		}
	}
	return out
}

// shellCommands splits a shell line into its simple commands' words: it
// honours quotes and backslashes, ends at a comment, and cuts at
// unquoted | ; & < >. A command with a placeholder word is left out.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var w strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 && !placeholder.MatchString(strings.Join(words, " ")) {
			cmds = append(cmds, words)
		}
		words = nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			inWord = true
			for i++; i < len(rs) && rs[i] != '\''; i++ {
				w.WriteRune(rs[i])
			}
		case r == '"':
			inWord = true
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) {
					i++
				}
				w.WriteRune(rs[i])
			}
		case r == '\\' && i+1 < len(rs):
			inWord = true
			i++
			w.WriteRune(rs[i])
		case r == '#' && !inWord:
			flushCmd()
			return cmds
		case r == ' ' || r == '\t':
			flushWord()
		case strings.ContainsRune("|;&<>", r):
			flushCmd()
			if r == '>' || r == '<' { // the redirection's target is not a word of the command
				for i+1 < len(rs) && rs[i+1] == ' ' {
					i++
				}
				for i+1 < len(rs) && rs[i+1] != ' ' {
					i++
				}
			}
		default:
			inWord = true
			w.WriteRune(r)
		}
	}
	flushCmd()
	return cmds
}
