// Package foreman is broker's provider for Foreman (type "foreman"; the
// Python broker's "Foreman" is the same name, as names are looked up
// without regard to case).
//
// It speaks Foreman's API v2 with HTTP basic authentication (username and
// password, or a personal access token as the password). Checkout creates
// a host from a hostgroup (argument hostgroup; parameters become host
// parameters, compute_attributes the compute attributes, image with
// computeresource an image-based host, every other argument a host
// attribute), in the settings' organization and location, named
// <name_prefix>-<intent id> (or the name argument) and carrying broker's
// labels as the host parameter broker_labels. The host id is reported
// through the request's Checkpoint at once; a creation whose answer is
// lost is looked for by name before it is retried, and an interrupted
// checkout resumes on the checkpointed host, so no second host is made.
// Checkout waits until the build has ended (build_status 0); a failed
// build, or one longer than build_timeout, deletes the host and is a
// *BuildError. Errors carry Foreman's own messages (422 full_messages).
//
// Check-in deletes the host (Gone when Foreman no longer knows it). Sync
// lists the hosts whose name carries the prefix. Execute runs a job
// template through remote execution on a host (hostname; job_template,
// default "Run Command - Script Default"; the other arguments are inputs)
// and returns its exit status and output. Describe lists hostgroups
// ("hostgroups") and shows one ("hostgroup" NAME).
//
// The password and token are sensitive and appear in no error, log, fact
// or recipe.
package foreman
