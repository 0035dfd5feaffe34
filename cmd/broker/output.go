package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/state"
)

// writeOutput writes --output-file: JSON of what the command did,
// overwriting the file, as the Python broker does. Records hold no secrets
// (providers keep those in their settings, which are never written); error
// texts are masked all the same, as a last line of defence.
func writeOutput(g *Globals, v any) error {
	if g.OutputFile == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode --output-file: %w", err)
	}
	b = g.secrets.Bytes(b)
	if err := os.WriteFile(g.OutputFile, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write --output-file: %w", err)
	}
	return nil
}

type changeRecord struct {
	Address  string      `json:"address,omitempty"`
	Action   string      `json:"action"`
	Outcome  string      `json:"outcome"`
	Error    string      `json:"error,omitempty"`
	Duration float64     `json:"duration_seconds"`
	Host     *state.Host `json:"host,omitempty"`
}

// resultRecord is the JSON shape of an executor result.
func resultRecord(r *executor.Result) map[string]any {
	changes := make([]changeRecord, 0, len(r.Changes))
	for _, c := range r.Changes {
		cr := changeRecord{Address: c.Address, Action: c.Action.String(), Outcome: c.Outcome.String(), Duration: c.Duration.Seconds(), Host: c.Host}
		if c.Err != nil {
			cr.Error = c.Err.Error()
		}
		changes = append(changes, cr)
	}
	return map[string]any{"summary": r.Summary(), "interrupted": r.Interrupted, "changes": changes}
}
