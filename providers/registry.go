package providers

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/hcldec"

	"github.com/labbroker/broker/providers/schema"
)

// SettingsSpec is an hcldec spec of a provider block's body.
type SettingsSpec = hcldec.Spec

var (
	regMu   sync.RWMutex
	byName  = map[string]*Type{}
	ordered []*Type
)

// Register adds a provider type. It panics on a name already taken: that is
// a programming error found at start-up.
func Register(t *Type) {
	if t.SettingsSchema != nil {
		t.Settings = t.SettingsSchema.Spec()
		t.Sensitive = t.SettingsSchema.SensitiveNames()
	}
	t.Args = t.ArgsSchema.ArgsType()
	t.InPlace = t.ArgsSchema.InPlaceNames()
	regMu.Lock()
	defer regMu.Unlock()
	for _, n := range append([]string{t.Name}, t.Aliases...) {
		k := strings.ToLower(n)
		if _, dup := byName[k]; dup {
			panic(fmt.Sprintf("providers: %q registered twice", n))
		}
		byName[k] = t
	}
	ordered = append(ordered, t)
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].Name < ordered[j].Name })
}

// Lookup finds a type by name or alias, ignoring case.
func Lookup(name string) (*Type, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	t, ok := byName[strings.ToLower(name)]
	return t, ok
}

// Types lists the registered types by name.
func Types() []*Type {
	regMu.RLock()
	defer regMu.RUnlock()
	return append([]*Type(nil), ordered...)
}

// Names lists every accepted name (canonical names and aliases), sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []string
	for _, t := range ordered {
		out = append(out, t.Name)
		out = append(out, t.Aliases...)
	}
	sort.Strings(out)
	return out
}

// CheckArgs checks a host's arguments against the type's argument schema:
// names (with "did you mean" when the set is closed), types, values and
// required arguments. Each problem is a *schema.Error; none: fine, or the
// type takes anything.
func (t *Type) CheckArgs(args map[string]any) []error {
	if t.ArgsSchema == nil {
		return nil
	}
	_, errs := t.ArgsSchema.Values(args, "argument")
	return errs
}

// HelpOf turns a schema's help into ArgHelp, for Describe responses.
func HelpOf(s *schema.Schema) []ArgHelp {
	var out []ArgHelp
	for _, h := range s.Help() {
		if h.Sensitive {
			h.Doc += "; sensitive: never shown or stored"
		}
		out = append(out, ArgHelp{Name: h.Name, Type: h.Type, Required: h.Required, Default: h.Default, Description: h.Doc})
	}
	return out
}
