// Package report writes what a command did for CI to read: a JUnit XML file
// (one test suite per command run, one test case per host and phase) and an
// NDJSON stream (every executor.Event as it happens, one JSON object per
// line, then one summary object).
//
// Writers are executor.Observers, so a command composes them with its
// progress display (Tee). The package only turns events into files: it
// owns no decision about hosts and never sees secrets (events carry none).
package report
