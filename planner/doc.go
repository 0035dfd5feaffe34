// Package planner compares what a manifest asks for with what the state
// records and returns a Plan: Create, Extend, Destroy, Replace or NoOp for
// each host address, with the reason. It may refresh records through
// providers, read-only (Input.Refresh).
//
// The planner changes nothing, prints nothing (rendering is the views'
// job) and does not import the executor.
//
// Entry points: DesiredHosts expands host blocks into instances; Make
// builds a plan (Go does not allow a func named like the Plan type);
// WriteFile, ReadFile and CheckSerial save a plan and guard its reuse.
// The pure rules of the imperative operations are here too:
// CheckinChanges, ExtendChanges (DefaultExtension for a host without a
// lease) and CheckoutChanges; and the one parser of addresses,
// ParseAddress, with CompareAddress.
//
// Every change carries a typed Reason (a kind and its data). Code decides
// on the kind; the words are made by the views (internal/views.ReasonText).
//
// ReapPlan decides what reap does in one environment (expired leases,
// imperative checkouts included; stale intents), and Orphans which
// resources listed by providers no record or intent knows; the listing,
// locks and check-ins are internal/app's.
//
// Decisions worth knowing:
//
//   - Labels are broker's own metadata, not part of the recipe: a label
//     difference never replaces or extends a host. The change keeps its
//     action and sets UpdateLabels; apply writes the new labels into the
//     record when it writes it. Labels already put on provider resources
//     at checkout are not rewritten.
//   - Change.Resume carries an intent and its Op says which: an OpCreate
//     intent on a Create is a checkout to resume; on a Destroy with no
//     Before, leftovers to clean up. An OpDestroy intent on a Destroy or
//     Replace is an interrupted check-in of that record, removed once the
//     check-in is done.
//   - An OpCreate intent is resumed by a Create of its address (the
//     newest one, if several); every other leftover create intent is
//     cleaned up.
//   - Records without an address (imperative checkouts) and intents
//     without one are never planned for.
//   - Filters (targets, excludes) see a change's record and its desired
//     host; it matches if either does. `index` is the instance index.
//     Filters with index stages (@inv[…]) are refused.
//   - for_each instances are addressed host.NAME["KEY"] (KeyAddress,
//     ParseInstance); changing the map destroys exactly the instances
//     whose keys left (ReasonKeyRemoved) and creates those that came.
//   - Args and labels that refer to hosts are resolved here with the
//     records of the referred instances that stay; those being created or
//     replaced make them unknown (Desired.Unknown), and apply resolves them
//     (executor Options.Resolve). A recipe argument that changes or is
//     unknown replaces the host, unless the provider takes it in place
//     (Host.InPlace: UpdateRecipe); unknown labels keep their recorded
//     values until known.
//   - Action blocks are changes too (Action Run, Change.Act, address
//     action.NAME), planned after the hosts: they run when never run,
//     failed, tainted, named by --replace, or when the digest of their
//     resolved inputs (ActionDigest) differs from the recorded one; a
//     known-false when leaves them out. A destroy plans the on_destroy
//     steps of actions that ran, before the hosts they refer to.
//   - Replace reasons are checked in this order: status (tainted, failed,
//     pending, releasing), refresh (gone, stopped), recipe (provider,
//     instance, args), --replace. Then the lease.
package planner
