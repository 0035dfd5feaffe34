// Package views renders broker's results for people and programs: plans
// (human, JSON) and inventories (table, details, JSON, YAML).
//
// Views render and never compute: whatever needs deciding (what changes,
// which hosts are selected) is decided before a view is called. Views
// write only to the io.Writer they are given, never read the terminal
// (colour is a bool the caller decides) and never read the clock (Now is
// passed in).
package views
