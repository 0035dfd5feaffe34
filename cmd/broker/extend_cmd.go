package main

import "errors"

// ExtendCmd: Extend hosts' leases.
type ExtendCmd struct{}

// Run is not written yet.
func (c *ExtendCmd) Run(g *Globals) error { return errors.New("broker extend is not available yet") }
