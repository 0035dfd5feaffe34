// Package planner compares what a manifest asks for with what the state
// records and returns a Plan: Create, Extend, Destroy, Replace or NoOp for
// each host address, with the reason. It may refresh records through
// providers, read-only.
//
// The planner changes nothing, prints nothing (rendering is the views'
// job) and does not import the executor.
package planner
