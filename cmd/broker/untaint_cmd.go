package main

import "errors"

// UntaintCmd: Clear a host's taint.
type UntaintCmd struct{}

// Run is not written yet.
func (c *UntaintCmd) Run(g *Globals) error { return errors.New("broker untaint is not available yet") }
