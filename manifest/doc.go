// Package manifest decodes broker's HCL: a suite's manifest (lab.hcl, or a
// directory of *.hcl) and the settings file (broker.hcl), into Config.
//
// It owns the schema, variables, locals, functions, provider reference
// resolution and diagnostics with source ranges. It must not import state,
// providers, planner or executor: provider schemas are handed in through
// Options.Schemas (a settings spec, an args type and an args check, all
// derived from the provider's one declaration), and hook "when" strings
// are kept for the caller to compile with the filter language. A problem
// the args check finds is reported at the item that sets the argument, in
// the host's args or else its nick's.
//
// # Manifest schema
//
//	environment = "name"                      # letters, digits, - _ .
//	variable "n" { type = … default = … description = "…" sensitive = bool }
//	locals { a = var.n  b = "${local.a}-x" } # several blocks; cycles are errors
//	provider "TYPE" "INSTANCE" {
//	  default = bool  max_concurrency = n    # broker's own attributes
//	  …                                       # the rest: the type's Settings spec
//	}
//	nick "name" { provider = "type.instance" | "type"  args = { … } }
//	host "name" {
//	  nick = "…" | provider = "type.instance" | "type"
//	  args = { … }  count = 1 | for_each = { k = v } | toset([…])
//	  lease = "1d12h" | "none"  renew_before = "1h"
//	  labels = { k = "v" }
//	  setup {
//	    upload { source = "…" destination = "…" mode = "0644" }
//	    run = [ … ]  script = "…"  timeout = "30m"
//	    wait_for = "ssh" | "none"  on_failure = "taint" | "keep"
//	  }
//	  teardown   { run = [ … ]  timeout = "5m" }
//	  connection { user port password private_key_file known_hosts_file agent bastion timeout }
//	}
//	hook "name" { on = ["after_setup"]  when = "filter expression"  run = [ … ]  local = [ … ] }
//	action "name" {
//	  provider = "type.instance"  args = { … }  command = [ … ]  artifacts = "last" | "merge"
//	  | local = [ "argv0", … ]
//	  when = bool  timeout = "30m"  retry { attempts = 3  delay = "1m" }
//	  on_destroy { args | command | local }
//	}
//	output "name" { value = …  sensitive = bool  description = "…" }
//	state { backend = "bolt" | "etcd" … }   ssh { … }
//
// The settings file takes provider, nick, locals, ssh, state, logging and
// inventory blocks.
//
// # Values
//
// Variables take, from weakest to strongest: default, var files in order,
// BROKER_VAR_<name>, --var. A --var string is taken literally for a string
// variable and parsed as an HCL expression for any other type.
//
// A provider reference "type" (no instance) means the instance with
// default = true, else the only instance (the manifest's own before those
// from the settings). When a type has no instance at all and none of its
// settings is required, an implicit instance "default" is made up, so
// provider = "sim" works without a provider block; it is in
// Config.Providers with Implicit set.
//
// Host args are the nick's args with the host's laid over them (shallow),
// converted to the type's Args, then recorded as JSON-shaped values; null
// object attributes (optional arguments not given) are left out. Count,
// for_each and lease are evaluated at load time and may use only var.*,
// local.* and functions (for_each's keys are addresses: host.NAME["KEY"]).
// Args and labels are evaluated per instance (Host.Instances) where they
// use count.index or each; where they refer to other hosts
// (host.NAME[i].…) the block is Dynamic: Config.ResolveInstance evaluates
// them with the hosts' values, leaving unknown (Instance.Unknown, "known
// after checkout") what refers to a host not checked out yet; such
// references fill DependsOn like setup's. Host blocks cannot refer to
// actions.
//
// Actions and outputs keep their expressions; Config.ResolveAction and
// ResolveOutput evaluate them with host values and action results
// (action.NAME.result, .status). Their references are checked at load
// time: unknown hosts or actions, and cycles between actions, are errors
// at the reference.
//
// Setup, teardown, connection and hook commands are kept as expressions,
// checked at load time with unknown hosts, and evaluated per instance by
// Config.ResolveSetup, ResolveTeardown, ResolveConnection and ResolveHook.
// They may use self, host.NAME[i], count.index; references to other hosts
// fill Host.DependsOn and must not form cycles. In hooks, host is the
// instance itself (host.hostname) as well as the way to other hosts.
//
// # Secrets
//
// env() results and sensitive variables carry a cty "sensitive" mark.
// Marked values may go only into provider settings, connection.password
// and state.password; anywhere else (args, labels, commands, environment)
// they are an error, because those are recorded in state or shown in
// plans and logs. Provider settings are stored unmarked because providers
// read plain values: ProviderSchema.Sensitive names the ones never to show.
//
// An env() without a default whose variable is not set is an error, except
// in a provider block's settings: there it decodes as unknown and is noted
// in Provider.Unset (with the call's range), because a secret is needed
// only by the command that uses that instance. The caller refuses to make
// the instance (Provider.UnsetErr) and validate warns (UnsetWarnings).
package manifest
