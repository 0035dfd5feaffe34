package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/labbroker/broker/executor"
	"github.com/labbroker/broker/internal/views"
	"github.com/labbroker/broker/state"
)

// writeOutput adds kv to the --output-file document and writes it whole:
// one JSON object, as the Python broker keeps it (its keys accumulate over
// the command; return_code, and error_message on failure, are added when
// the command ends: finishOutput). Records hold no secrets (providers keep
// those in their settings, which are never written); the document is
// masked all the same, as a last line of defence.
func writeOutput(g *Globals, kv map[string]any) error {
	if g.OutputFile == "" {
		return nil
	}
	if g.output == nil {
		g.output = map[string]any{}
	}
	for k, v := range kv {
		g.output[k] = v
	}
	b, err := json.MarshalIndent(g.output, "", "  ")
	if err != nil {
		return fmt.Errorf("encode --output-file: %w", err)
	}
	b = g.secrets.Bytes(b)
	if err := os.WriteFile(g.OutputFile, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write --output-file: %w", err)
	}
	return nil
}

// finishOutput records how the command ended: return_code (the exit
// code), and error_message (masked) when it failed. Nothing when broker
// went to the background: the background process writes the file.
func finishOutput(g *Globals, code int, err error) error {
	if g.OutputFile == "" || g.detached {
		return nil
	}
	kv := map[string]any{"return_code": code}
	if code != exitOK && err != nil {
		kv["error_message"] = g.secrets.String(errorMessage(err))
	}
	return writeOutput(g, kv)
}

// errorMessage is what the user was told of err.
func errorMessage(err error) string {
	var s silentError
	if errors.As(err, &s) {
		if s.msg != "" {
			return s.msg
		}
		return "see the errors broker printed"
	}
	var ce *exitCodeError
	if errors.As(err, &ce) && ce.err == nil {
		return ce.Error()
	}
	return err.Error()
}

// pythonActions are the Python broker's provider methods a checkout
// calls, written as --output-file's "action".
var pythonActions = map[string]string{"awx": "execute", "docker": "run_container", "sim": "test_action", "openstack": "checkout"}

// withCommand adds "command" to kv.
func withCommand(command string, kv map[string]any) map[string]any {
	kv["command"] = command
	return kv
}

// hostsOutput is --output-file's {"hosts": […]}.
func hostsOutput(hosts []state.Host) map[string]any {
	return map[string]any{"hosts": views.PythonHosts(hosts)}
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
