package views

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/labbroker/broker/state"
)

// Sensitive stands for a sensitive output's value in listings.
const Sensitive = "(sensitive)"

// Outputs renders an environment's saved outputs, `name = value` a line,
// sensitive ones masked.
func Outputs(w io.Writer, vals []state.Value) error {
	width := 0
	for _, v := range vals {
		width = max(width, len(v.Name))
	}
	for _, v := range vals {
		val := hclValue(v.Value)
		if v.Sensitive {
			val = Sensitive
		}
		if _, err := fmt.Fprintf(w, "%-*s = %s\n", width, v.Name, val); err != nil {
			return err
		}
	}
	return nil
}

// OutputsJSON renders outputs as one JSON object by name: {"value": …,
// "sensitive": bool}, the value of a sensitive output left out.
func OutputsJSON(w io.Writer, vals []state.Value) error {
	type entry struct {
		Value     any  `json:"value,omitempty"`
		Sensitive bool `json:"sensitive"`
	}
	m := map[string]entry{}
	for _, v := range vals {
		e := entry{Value: v.Value, Sensitive: v.Sensitive}
		if v.Sensitive {
			e.Value = nil
		}
		m[v.Name] = e
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// OutputValue renders one output asked for by name, sensitive or not: a
// string as it is (for shell use), anything else as JSON when asJSON, else
// as HCL.
func OutputValue(w io.Writer, v state.Value, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v.Value)
	}
	if s, ok := v.Value.(string); ok {
		_, err := fmt.Fprintln(w, s)
		return err
	}
	_, err := fmt.Fprintln(w, hclValue(v.Value))
	return err
}

// ActionResult renders an action's recorded result: status, when, and
// the result as HCL.
func ActionResult(w io.Writer, v state.Value) error {
	m, _ := v.Value.(map[string]any)
	rows := []attr{
		{"action", fmt.Sprintf("%q", "action."+v.Name)},
		{"environment", fmt.Sprintf("%q", v.Environment)},
		{"status", fmt.Sprintf("%q", v.Status)},
	}
	if v.Error != "" {
		rows = append(rows, attr{"error", fmt.Sprintf("%q", v.Error)})
	}
	if st, ok := m["status"]; ok {
		rows = append(rows, attr{"exit_status", hclValue(st)})
	}
	rows = append(rows, attr{"result", hclValue(m["result"])}, attr{"updated", v.Updated.Format("2006-01-02 15:04:05Z07:00")})
	width := 0
	for _, r := range rows {
		width = max(width, len(r.key))
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-*s = %s\n", width, r.key, r.val); err != nil {
			return err
		}
	}
	return nil
}
