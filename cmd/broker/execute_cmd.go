package main

import "errors"

// ExecuteCmd: Run a provider action that makes no host (a workflow, a one-off container).
type ExecuteCmd struct{}

// Run is not written yet.
func (c *ExecuteCmd) Run(g *Globals) error { return errors.New("broker execute is not available yet") }
