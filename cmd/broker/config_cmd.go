package main

import "errors"

// ConfigCmd: View, validate, create or import broker's settings.
type ConfigCmd struct{}

// Run is not written yet.
func (c *ConfigCmd) Run(g *Globals) error { return errors.New("broker config is not available yet") }
