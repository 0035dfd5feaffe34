package views

import (
	"fmt"
	"strings"

	"github.com/labbroker/broker/planner"
)

// ReasonText puts a plan's reason in words, the one place that does.
func ReasonText(r planner.Reason) string {
	with := func(s string) string {
		if r.Detail == "" {
			return s
		}
		return s + ": " + r.Detail
	}
	switch r.Kind {
	case planner.ReasonNone:
		return ""
	case planner.ReasonMissing:
		return "not checked out yet"
	case planner.ReasonResume:
		return "resume an interrupted checkout"
	case planner.ReasonCleanup:
		return "clean up after an interrupted run"
	case planner.ReasonFinishCheckin:
		return "finish an interrupted check-in"
	case planner.ReasonInterruptedCheckin:
		return "an earlier check-in was interrupted"
	case planner.ReasonInterruptedApply:
		return "an earlier apply was interrupted before the host was ready"
	case planner.ReasonDestroyEnvironment:
		return "the environment is being destroyed"
	case planner.ReasonSuperseded:
		return "a newer record holds " + r.Detail
	case planner.ReasonNotInManifest:
		return r.Detail + " is not in the manifest"
	case planner.ReasonBlockRemoved:
		return r.Detail + " is no longer in the manifest"
	case planner.ReasonCountReduced:
		return fmt.Sprintf("%s is now count = %d", r.Detail, r.Count)
	case planner.ReasonNeverRan:
		return "never ran"
	case planner.ReasonInputsChanged:
		if len(r.Fields) == 1 && r.Fields[0] == "inputs" {
			return "inputs known after the hosts it refers to are ready"
		}
		return "inputs changed: " + strings.Join(r.Fields, ", ")
	case planner.ReasonActionFailed:
		return with("last run failed")
	case planner.ReasonOnDestroy:
		return "on_destroy runs before the hosts it refers to are checked in"
	case planner.ReasonRecipeUpdated:
		return "updated in place: " + strings.Join(r.Fields, ", ")
	case planner.ReasonKeyRemoved:
		return r.Detail + " is not among its block's for_each keys"
	case planner.ReasonTainted:
		if r.Detail == "" {
			return "tainted"
		}
		return "tainted (" + r.Detail + ")"
	case planner.ReasonSetupFailed:
		return with("setup failed")
	case planner.ReasonGone:
		return "removed outside broker"
	case planner.ReasonStopped:
		return "stopped outside broker"
	case planner.ReasonRecipeChanged:
		return "recipe changed: " + strings.Join(r.Fields, ", ")
	case planner.ReasonReplaceRequested:
		return "replacement requested"
	case planner.ReasonLeaseMissing:
		return "no lease recorded, renewing for " + HumanDuration(r.Lease)
	case planner.ReasonLeaseExpired:
		s := "lease expired " + HumanDuration(-r.Left) + " ago"
		if r.Lease > 0 {
			s += ", renewing for " + HumanDuration(r.Lease)
		}
		return s
	case planner.ReasonLeaseEnding:
		return fmt.Sprintf("lease ends in %s, renewing for %s", HumanDuration(r.Left), HumanDuration(r.Lease))
	case planner.ReasonLabelsChanged:
		return "labels changed (recorded only)"
	case planner.ReasonCheckout:
		if r.Detail != "" {
			return "checkout of nick " + r.Detail
		}
		return "checkout"
	case planner.ReasonDuplicate:
		return "duplicate of " + r.Detail
	case planner.ReasonCheckin:
		return "checkin"
	case planner.ReasonExtend:
		return "extend"
	}
	return with(string(r.Kind))
}
