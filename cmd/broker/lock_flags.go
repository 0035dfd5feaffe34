package main

import "time"

// lockFlags is --lock-timeout, on every command that takes an
// environment's lock. Imperative commands (checkout, checkin, extend,
// duplicate) share the lock with each other and wait only for an apply,
// destroy, reap or state change; those wait for everyone.
type lockFlags struct {
	LockTimeout time.Duration `name:"lock-timeout" default:"5m" placeholder:"DURATION" help:"How long to wait while another broker holds the environment's lock (an apply, destroy or reap; parallel checkouts, check-ins and extends do not exclude each other); 0 fails at once, naming the holder."`
}
