package main

import "errors"

// ProvidersCmd: List providers, their actions and arguments.
type ProvidersCmd struct{}

// Run is not written yet.
func (c *ProvidersCmd) Run(g *Globals) error { return errors.New("broker providers is not available yet") }
