// Package pyconfig converts the Python broker's files to this broker's:
// broker_settings.yaml to a broker.hcl settings file (ConvertSettings), and
// its inventory.yaml to host records (ConvertInventory).
//
// Secrets (tokens, passwords) are never written in clear: they become
// env("VARIABLE") references, and the conversion lists the variables the
// user must set (ConvertSettingsWith with InlineSecrets keeps them, for a
// conversion held in memory and never written). Placeholders of the
// Python example file ("<username>") become env() references too. keys.go
// maps the Python setting names to ours, for conversion, BROKER_…
// environment variables and config chunks alike. Settings with no counterpart here are reported as notes,
// never dropped silently. The package reads and writes bytes only: it
// must not touch the state or the broker directory.
package pyconfig
