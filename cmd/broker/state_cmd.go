package main

import "errors"

// StateCmd: Operate on the state: migrate between backends, show, list, remove records.
type StateCmd struct{}

// Run is not written yet.
func (c *StateCmd) Run(g *Globals) error { return errors.New("broker state is not available yet") }
