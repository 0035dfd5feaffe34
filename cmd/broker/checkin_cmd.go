package main

import "errors"

// CheckinCmd: Check hosts in by index, name, hostname or filter.
type CheckinCmd struct{}

// Run is not written yet.
func (c *CheckinCmd) Run(g *Globals) error { return errors.New("broker checkin is not available yet") }
