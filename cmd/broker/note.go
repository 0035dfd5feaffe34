package main

import "fmt"

// note prints a remark on stderr in broker's voice.
func (g *Globals) note(format string, args ...any) {
	fmt.Fprintf(g.stderr, "broker: note: "+format+"\n", args...)
}

// warn prints a warning on stderr.
func (g *Globals) warn(format string, args ...any) {
	fmt.Fprintf(g.stderr, "broker: warning: "+format+"\n", args...)
}
