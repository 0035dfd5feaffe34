package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is a saved plan: the plan and what apply needs to decode the same
// manifest again, so that `broker apply plan.json` runs exactly what was
// shown even if the files changed since.
type File struct {
	// FormatVersion is the file format's version (FormatVersion).
	FormatVersion int   `json:"format_version"`
	Plan          *Plan `json:"plan"`
	// Sources are the manifest files by name, as read.
	Sources map[string][]byte `json:"sources"`
	// BaseDir is the manifest's directory, for relative file names.
	BaseDir string `json:"base_dir"`
	// Variables are the values of the variables that are not sensitive;
	// SensitiveVariables name the sensitive ones that were given a value,
	// whose values are never saved (see variables.go).
	Variables          map[string]SavedValue `json:"variables,omitempty"`
	SensitiveVariables []string              `json:"sensitive_variables,omitempty"`
	BrokerVersion      string                `json:"broker_version,omitempty"`
}

// WriteFile saves f as JSON, readable by the owner only. It writes a
// temporary file beside path and renames it, so a crash never leaves half
// a plan.
func WriteFile(path string, f *File) error {
	if f == nil || f.Plan == nil {
		return errors.New("write plan file: no plan")
	}
	g := *f
	if g.FormatVersion == 0 {
		g.FormatVersion = FormatVersion
	}
	b, err := json.MarshalIndent(&g, "", "  ")
	if err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), ".broker-plan-*")
	if err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file, ignored
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	return nil
}

// ReadFile loads a saved plan; it refuses a format it does not know.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan file: %w", err)
	}
	var head struct {
		FormatVersion *int `json:"format_version"`
		// Older brokers saved --var and --var-file values, secrets too.
		Vars     json.RawMessage `json:"vars"`
		VarFiles json.RawMessage `json:"var_files"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("read plan file %s: not a broker plan: %w", path, err)
	}
	switch {
	case head.FormatVersion == nil:
		return nil, fmt.Errorf("read plan file %s: not a broker plan (no format_version)", path)
	case *head.FormatVersion != FormatVersion:
		return nil, fmt.Errorf("read plan file %s: format version %d is not supported by this broker (it reads version %d): make the plan again with this broker",
			path, *head.FormatVersion, FormatVersion)
	case head.Vars != nil || head.VarFiles != nil:
		return nil, fmt.Errorf("read plan file %s: made by an older broker that saved variable values in it, sensitive ones too: delete it and make the plan again", path)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read plan file %s: %w", path, err)
	}
	if f.Plan == nil {
		return nil, fmt.Errorf("read plan file %s: no plan in it", path)
	}
	if f.Plan.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read plan file %s: plan format version %d is not supported by this broker", path, f.Plan.FormatVersion)
	}
	return &f, nil
}

// StaleError says a saved plan was made against another state.
type StaleError struct {
	Environment   string
	PlanSerial    uint64
	CurrentSerial uint64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the state changed since this plan was made (serial %d, now %d): run plan again",
		e.PlanSerial, e.CurrentSerial)
}

// CheckSerial returns a *StaleError unless the environment's serial is
// still the one p was made against.
func CheckSerial(p *Plan, current uint64) error {
	if p.StateSerial != current {
		return &StaleError{Environment: p.Environment, PlanSerial: p.StateSerial, CurrentSerial: current}
	}
	return nil
}
