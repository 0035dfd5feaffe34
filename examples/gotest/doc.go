// Package gotest is a runnable example of a Go test suite that gets its
// machines from broker, through package brokertest: containers of the
// local Docker engine, one reached over SSH, one over the engine's exec
// API, shared by the package's tests through TestMain, and a small lab
// applied from testdata/lab.hcl for one test. The tests are in
// gotest_test.go; run them with
//
//	go test ./examples/gotest -v
//	go test ./examples/gotest -v -broker.keep   # keep the hosts to look at them
//
// They skip when no Docker engine answers (and fail when CI=true), and
// build broker's test images (test/images/build.sh) when missing.
package gotest
