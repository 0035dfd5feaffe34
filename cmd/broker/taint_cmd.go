package main

import "errors"

// TaintCmd: Mark a host for replacement by the next apply.
type TaintCmd struct{}

// Run is not written yet.
func (c *TaintCmd) Run(g *Globals) error { return errors.New("broker taint is not available yet") }
