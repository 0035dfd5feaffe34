package main

import "errors"

// CheckoutCmd: Check hosts out (the Python broker's command line).
type CheckoutCmd struct{}

// Run is not written yet.
func (c *CheckoutCmd) Run(g *Globals) error { return errors.New("broker checkout is not available yet") }
