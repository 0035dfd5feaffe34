package main

import "errors"

// DuplicateCmd: Check out more hosts with the same recipe as recorded ones.
type DuplicateCmd struct{}

// Run is not written yet.
func (c *DuplicateCmd) Run(g *Globals) error { return errors.New("broker duplicate is not available yet") }
