package main

import "errors"

// ReapCmd: Check in expired hosts and remove orphaned resources.
type ReapCmd struct{}

// Run is not written yet.
func (c *ReapCmd) Run(g *Globals) error { return errors.New("broker reap is not available yet") }
