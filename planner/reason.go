package planner

import "time"

// ReasonKind says why a change is in a plan. Code decides on the kind;
// the words a person reads are made from the whole Reason by the views
// (internal/views.ReasonText), never parsed back.
type ReasonKind string

// The kinds of reasons. Their values are stable: they are written into
// saved plans and JSON output.
const (
	// ReasonNone: no reason given (a no-op).
	ReasonNone ReasonKind = ""
	// ReasonMissing: the manifest asks for a host that is not checked out.
	ReasonMissing ReasonKind = "missing"
	// ReasonResume: an interrupted checkout of the host is resumed.
	ReasonResume ReasonKind = "resume"
	// ReasonCleanup: what an interrupted run may have made is cleaned up.
	ReasonCleanup ReasonKind = "cleanup"
	// ReasonFinishCheckin: an interrupted check-in is finished.
	ReasonFinishCheckin ReasonKind = "finish-checkin"
	// ReasonInterruptedCheckin: an earlier check-in of the host was
	// interrupted, so the host is made again.
	ReasonInterruptedCheckin ReasonKind = "interrupted-checkin"
	// ReasonInterruptedApply: an earlier apply stopped before the host was
	// ready.
	ReasonInterruptedApply ReasonKind = "interrupted-apply"
	// ReasonDestroyEnvironment: the whole environment is destroyed.
	ReasonDestroyEnvironment ReasonKind = "destroy"
	// ReasonSuperseded: a newer record holds the address (Detail).
	ReasonSuperseded ReasonKind = "superseded"
	// ReasonNotInManifest: the address (Detail) is not in the manifest.
	ReasonNotInManifest ReasonKind = "not-in-manifest"
	// ReasonBlockRemoved: the host block (Detail, host.NAME) is gone.
	ReasonBlockRemoved ReasonKind = "block-removed"
	// ReasonCountReduced: the block (Detail) now has Count instances.
	ReasonCountReduced ReasonKind = "count-reduced"
	// ReasonKeyRemoved: the instance's key (Detail: its address) is no
	// longer in the block's for_each.
	ReasonKeyRemoved ReasonKind = "key-removed"
	// ReasonNeverRan: the action has no recorded result.
	ReasonNeverRan ReasonKind = "never-ran"
	// ReasonInputsChanged: the action's inputs differ from its last run's
	// (Fields: "args", "command", "local", "provider"; "inputs" when they
	// are known only after the hosts it refers to are done).
	ReasonInputsChanged ReasonKind = "inputs-changed"
	// ReasonActionFailed: the action's last run failed (Detail: why).
	ReasonActionFailed ReasonKind = "action-failed"
	// ReasonOnDestroy: the action's on_destroy step runs before the hosts
	// it refers to are checked in.
	ReasonOnDestroy ReasonKind = "on-destroy"
	// ReasonTainted: the host is tainted; Detail is the record's reason
	// (who tainted it, or the setup error that did).
	ReasonTainted ReasonKind = "tainted"
	// ReasonSetupFailed: the host's setup failed (Detail: the error).
	ReasonSetupFailed ReasonKind = "setup-failed"
	// ReasonGone: the host was removed behind broker's back.
	ReasonGone ReasonKind = "gone"
	// ReasonStopped: the host was stopped behind broker's back.
	ReasonStopped ReasonKind = "stopped"
	// ReasonRecipeChanged: the arguments in Fields changed.
	ReasonRecipeChanged ReasonKind = "recipe-changed"
	// ReasonReplaceRequested: --replace named the host.
	ReasonReplaceRequested ReasonKind = "replace-requested"
	// ReasonLeaseMissing: no lease is recorded; renewing for Lease.
	ReasonLeaseMissing ReasonKind = "lease-missing"
	// ReasonLeaseExpired: the lease ended -Left ago; renewing for Lease
	// when Lease is set, else (reap) checking the host in.
	ReasonLeaseExpired ReasonKind = "lease-expired"
	// ReasonLeaseEnding: the lease ends in Left; renewing for Lease.
	ReasonLeaseEnding ReasonKind = "lease-ending"
	// ReasonRecipeUpdated: only arguments the provider takes in place
	// changed (Fields); the record is updated, nothing made.
	ReasonRecipeUpdated ReasonKind = "recipe-updated"
	// ReasonLabelsChanged: only the labels changed (recorded, nothing made).
	ReasonLabelsChanged ReasonKind = "labels-changed"
	// ReasonCheckout: an imperative checkout (Detail: the nick, if any).
	ReasonCheckout ReasonKind = "checkout"
	// ReasonDuplicate: a copy of the host Detail names.
	ReasonDuplicate ReasonKind = "duplicate"
	// ReasonCheckin: an imperative check-in.
	ReasonCheckin ReasonKind = "checkin"
	// ReasonExtend: an imperative extension.
	ReasonExtend ReasonKind = "extend"
)

// Reason says why a change is planned: a kind and the data its words need.
type Reason struct {
	Kind ReasonKind `json:"kind"`
	// Detail is the kind's one piece of text: a nick, an address, a block,
	// an error, who tainted a host.
	Detail string `json:"detail,omitempty"`
	// Fields are the changed arguments of ReasonRecipeChanged.
	Fields []string `json:"fields,omitempty"`
	// Count is a block's new count (ReasonCountReduced).
	Count int `json:"count,omitempty"`
	// Lease is the lease renewed for; Left the time a lease had left
	// (negative: expired that long ago).
	Lease time.Duration `json:"lease,omitempty"`
	Left  time.Duration `json:"left,omitempty"`
}

// Because is a Reason of kind k with detail.
func Because(k ReasonKind, detail string) Reason { return Reason{Kind: k, Detail: detail} }

// Is reports whether the reason is of kind k.
func (r Reason) Is(k ReasonKind) bool { return r.Kind == k }
