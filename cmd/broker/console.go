package main

import (
	"fmt"
	"io"
	"sync"
)

// console is stderr as the command's progress display and the messages
// that may come while it is drawn (the interrupt notices) share it: on a
// terminal, a notice goes above the live block, which is drawn again under
// it, rather than under the block, where the next redraw would erase it.
type console struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
	p   *progress // the live display, if one is drawn
}

func newConsole(w io.Writer) *console { return &console{w: w, tty: isTerminal(w)} }

func (c *console) attach(p *progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = p
}

func (c *console) detach(p *progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == p {
		c.p = nil
	}
}

// say prints a notice: above the live block if one is drawn, else on a
// line of its own (after the ^C the terminal echoed).
func (c *console) say(msg string) {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p != nil && p.say(msg) {
		return
	}
	fmt.Fprintln(c.w, "\n"+msg)
}

// again is how the user interrupts a second time.
func (c *console) again() string {
	if c.tty {
		return "press Ctrl-C again"
	}
	return "interrupt again"
}
