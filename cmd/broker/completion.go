package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// CompletionCmd prints a completion script.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell: ${enum}."`
}

// Help is shown by `broker completion --help`.
func (c *CompletionCmd) Help() string {
	return `Prints a script that completes broker's commands and flags.

  bash:  source <(broker completion bash)          # or save it under /etc/bash_completion.d/
  zsh:   source <(broker completion zsh)
  fish:  broker completion fish > ~/.config/fish/completions/broker.fish`
}

// Run prints the script.
func (c *CompletionCmd) Run(g *Globals, k *kong.Context) error {
	cmds := map[string][]string{}
	var names []string
	for _, n := range k.Model.Children {
		if n.Hidden {
			continue
		}
		names = append(names, n.Name)
		cmds[n.Name] = flagNames(n)
	}
	sort.Strings(names)
	global := flagNames(k.Model.Node)
	switch c.Shell {
	case "bash", "zsh":
		var b strings.Builder
		if c.Shell == "zsh" {
			b.WriteString("autoload -U +X bashcompinit && bashcompinit\n")
		}
		b.WriteString("_broker() {\n  local cur=${COMP_WORDS[COMP_CWORD]} cmd=\"\" w\n")
		b.WriteString("  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do case $w in -*) ;; *) cmd=$w; break;; esac; done\n")
		b.WriteString("  case $cmd in\n")
		for _, n := range names {
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n", n, strings.Join(append(cmds[n], global...), " "))
		}
		fmt.Fprintf(&b, "    *) COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n  esac\n  case $cur in -*|\"\") ;; *) [ -z \"$cmd\" ] || COMPREPLY+=($(compgen -f -- \"$cur\"));; esac\n}\ncomplete -F _broker broker\n",
			strings.Join(append(names, global...), " "))
		_, err := fmt.Fprint(g.stdout, b.String())
		return err
	default:
		var b strings.Builder
		b.WriteString("complete -c broker -f\n")
		for _, n := range names {
			fmt.Fprintf(&b, "complete -c broker -n '__fish_use_subcommand' -a %s\n", n)
			for _, f := range cmds[n] {
				fmt.Fprintf(&b, "complete -c broker -n '__fish_seen_subcommand_from %s' -l %s\n", n, strings.TrimPrefix(f, "--"))
			}
		}
		for _, f := range global {
			fmt.Fprintf(&b, "complete -c broker -l %s\n", strings.TrimPrefix(f, "--"))
		}
		_, err := fmt.Fprint(g.stdout, b.String())
		return err
	}
}

func flagNames(n *kong.Node) []string {
	var out []string
	for _, f := range n.Flags {
		if f.Hidden {
			continue
		}
		out = append(out, "--"+f.Name)
	}
	sort.Strings(out)
	return out
}
