package executor

import (
	"errors"
	"testing"

	"github.com/labbroker/broker/planner"
)

func TestResultSummaryAndErr(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		res         Result
		wantSummary string
		wantErr     string
	}{
		{"empty", Result{}, "no changes", ""},
		{
			"all done",
			Result{Changes: []ChangeResult{
				{Address: "host.a[0]", Action: planner.Create},
				{Address: "host.b[0]", Action: planner.Create},
				{Address: "host.c[0]", Action: planner.Destroy},
				{Address: "host.d[0]", Action: planner.Replace},
				{Address: "host.e[0]", Action: planner.Extend},
			}},
			"2 checked out, 1 replaced, 1 extended, 1 checked in", "",
		},
		{
			"failures",
			Result{Changes: []ChangeResult{
				{Address: "host.a[0]", Action: planner.Create, Outcome: OutcomeFailed, Err: boom},
				{HostID: "h1", Action: planner.Destroy, Outcome: OutcomeFailed, Err: boom},
				{Address: "host.b[0]", Action: planner.Create, Outcome: OutcomeSkipped, Err: &DependencyError{Address: "host.a[0]"}},
			}},
			"2 failed, 1 skipped", "create host.a[0]: boom\ndestroy host h1: boom",
		},
		{
			"interrupted",
			Result{Interrupted: true, Changes: []ChangeResult{
				{Address: "host.a[0]", Action: planner.Create},
				{Address: "host.b[0]", Action: planner.Create, Outcome: OutcomeSkipped, Err: ErrInterrupted},
			}},
			"1 checked out, 1 skipped", "1 change not attempted: interrupted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.Summary(); got != tt.wantSummary {
				t.Errorf("Summary() = %q, want %q", got, tt.wantSummary)
			}
			got := ""
			if err := tt.res.Err(); err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Err() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}
