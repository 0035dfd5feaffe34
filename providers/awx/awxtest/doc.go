// Package awxtest is an emulator of the parts of the AWX / Ansible
// Automation Platform REST API (v2) that broker's awx provider uses, served
// over real HTTP on 127.0.0.1 for tests and demos.
//
// It follows the real API's shapes: paginated lists (count, next, previous,
// results) with relative next links, /me/, personal OAuth2 tokens, workflow
// job templates and job templates with surveys and launch endpoints,
// workflow jobs with their workflow nodes, jobs with artifacts and job
// events, inventories with hosts, and AAP 2.5's /api/controller/v2/ prefix
// behind a gateway-like /api/ root.
//
// Workflows are deterministic: a launched job moves from pending through
// running to its final status after a number of polls of its detail
// endpoint (and, optionally, once an injected clock has passed a delay), so
// tests never sleep. Built-in kinds of workflow act on the emulator's
// inventories: deploy makes hosts, release removes the host named by
// source_vm, extend moves the expiry of the host named by target_vm.
//
// Faults can be injected: 5xx responses for the next N requests or at a
// rate, dropped connections, slow responses, failing workflow nodes with
// job events, expired tokens. Counters tell how many times each template
// was launched.
//
// The emulator is test code: it keeps everything in memory, checks
// passwords and tokens only as far as tests need, and must not be used as
// a provider.
package awxtest
