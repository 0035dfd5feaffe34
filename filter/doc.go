// Package filter is broker's one selection language. The same compiled
// filter serves `--filter`, `plan --target/--exclude`, `exec` selection
// and a hook's `when`.
//
// A filter is an expr-lang expression that must yield a bool, checked at
// compile time against one typed environment (Values), so a misspelt field
// fails before any host is looked at, with its column. The environment's
// names are stable and documented on Values; `_broker_args` is an alias of
// `args` and `host` an alias of the whole host (hook conditions read
// `host.labels.role`). Helpers: `duration("1h")` and `now()`, which
// returns the time handed to Match or Select, never the wall clock, so a
// filter is a pure function of its inputs.
//
// Reading into a map that may lack a key is nil-safe one level deep
// (`args.template` of a host without one is nil); deeper, write `?.`
// (`facts.os?.name`), or the filter fails on that host.
//
// Index selection: a filter is a pipeline. Stages are separated by a
// top-level `|`; a stage written `@inv[2]`, `@inv[-1]`, `@inv[:3]`,
// `@inv[1:]` or `@inv[::2]` picks hosts by position in what the previous stage passed
// (negative positions count from the end, as in Python); every other run
// of text is an expression (expr's own `|` pipes inside an expression
// keep working). Index stages need the whole list, so only Select honours
// them; Match and MatchValues refuse a filter that has one.
//
// Parse adds compatibility with the Python tool: the old
// `field<value,field!=value` syntax and `@inv.field` expressions are
// translated into the expression language, and the translation is returned
// so the caller can tell the user what to write next time. A string that
// is already a valid expression is taken as one. In the @inv form every
// top-level `|` separates stages (as Python splits them), the string
// methods startswith, endswith, get, lower, upper, strip, split, keys and
// values and `in (tuple)` are translated, and a key no field of broker's
// has (tower_inventory) is read from facts. `_broker_provider` holds the
// Python provider names (PythonProvider), and a whole provider name
// compared with it or with `provider` is translated to the field's
// naming. A filter Parse translated is strict: Select refuses it when it
// reads a facts, args or labels key that no host has.
//
// The package reads state records and nothing else: it does not touch the
// store, call providers or print.
package filter
