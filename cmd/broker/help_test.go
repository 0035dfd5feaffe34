package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestHelpKeepsIndentedLines renders every command's --help and checks
// that the indented lines of its text (legends, examples) come out as
// written: kong's help formats text as doc comments, where a line that
// starts with "+" or "-" becomes a list item and gets reflowed.
func TestHelpKeepsIndentedLines(t *testing.T) {
	var cli CLI
	parser, err := newParser(&cli, &bytes.Buffer{}, &bytes.Buffer{}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		for _, c := range n.Children {
			if c.Type != kong.CommandNode {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			walk(c, p)
			if c.Detail == "" {
				continue
			}
			t.Run(strings.Join(p, " "), func(t *testing.T) {
				var out bytes.Buffer
				var cli CLI
				parser, err := newParser(&cli, &out, &out, func(int) { panic(exitPanic{}) })
				if err != nil {
					t.Fatal(err)
				}
				func() {
					defer func() { _ = recover() }()
					_, _ = parser.Parse(append(p, "--help"))
				}()
				for _, line := range strings.Split(c.Detail, "\n") {
					if !strings.HasPrefix(line, "  ") || strings.TrimSpace(line) == "" {
						continue
					}
					if !strings.Contains(out.String(), strings.TrimRight(line, " ")) {
						t.Errorf("help lost the line %q:\n%s", line, out.String())
					}
				}
			})
		}
	}
	walk(parser.Model.Node, nil)
}
