package main

import "errors"

// ImportCmd: Adopt an existing resource into an environment.
type ImportCmd struct{}

// Run is not written yet.
func (c *ImportCmd) Run(g *Globals) error { return errors.New("broker import is not available yet") }
