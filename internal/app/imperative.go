package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

// CheckoutSpec is an imperative checkout as the Python broker's command
// line describes it: a provider (perhaps only implied), a nick, arguments.
type CheckoutSpec struct {
	// Provider is "type", "type.instance" or empty (implied).
	Provider string
	// Instance, if set, names the instance (from --AnsibleTower testing).
	Instance string
	Nick     string
	Args     map[string]any
	Labels   map[string]string
	Lease    time.Duration
	Count    int
}

// ResolvedCheckout is a CheckoutSpec with its provider instance chosen and
// the nick's arguments merged under the command line's.
type ResolvedCheckout struct {
	Provider, Instance, Nick string
	Args                     map[string]any
	Labels                   map[string]string
	Lease                    time.Duration
	Count                    int
}

// argProviders are arguments that imply a provider type, as the Python
// broker picks a provider by the arguments it accepts.
var argProviders = map[string]string{
	"workflow":       "awx",
	"job_template":   "awx",
	"image":          "docker",
	"container_host": "docker",
	"container_app":  "docker",
	// The Python broker's OpenStack.checkout is chosen by these two.
	"ostack_image":    "openstack",
	"ostack_template": "openstack",
	"job_xml":         "beaker",
	"job_id":          "beaker",
	"hostgroup":       "foreman",
}

// ResolveCheckout chooses the provider instance of a checkout: --provider,
// else the nick's provider, else one implied by an argument, else the only
// provider type the settings declare.
func (a *App) ResolveCheckout(spec CheckoutSpec) (*ResolvedCheckout, error) {
	out := &ResolvedCheckout{Nick: spec.Nick, Labels: spec.Labels, Lease: spec.Lease, Count: spec.Count, Args: map[string]any{}}
	typ, inst, _ := strings.Cut(spec.Provider, ".")
	if spec.Nick != "" {
		n := a.Settings.Nick(spec.Nick)
		if n == nil {
			return nil, Hint(fmt.Errorf("unknown nick %q", spec.Nick), nickHint(a.Settings.Nicks))
		}
		maps.Copy(out.Args, n.Args)
		if n.Provider != "" {
			nt, ni, _ := strings.Cut(n.Provider, ".")
			if typ == "" {
				typ = nt
				if inst == "" && spec.Instance == "" {
					inst = ni
				}
			}
		}
	}
	maps.Copy(out.Args, spec.Args)
	if spec.Instance != "" {
		inst = spec.Instance
	}
	if typ == "" {
		keys := make([]string, 0, len(out.Args))
		for k := range out.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if t, ok := argProviders[k]; ok {
				typ = t
				break
			}
		}
	}
	if typ == "" {
		types := map[string]bool{}
		for _, p := range a.Settings.Providers {
			types[p.Type] = true
		}
		if len(types) == 1 {
			for t := range types {
				typ = t
			}
		}
	}
	if typ == "" {
		return nil, Hint(fmt.Errorf("no provider given and none implied"),
			"pass --provider TYPE[.INSTANCE] (one of "+strings.Join(providerTypeNames(), ", ")+"), a nick with a provider, or declare exactly one provider in "+SettingsFile)
	}
	t, ok := providers.Lookup(typ)
	if !ok {
		return nil, Hint(fmt.Errorf("unknown provider %q", typ), "known providers: "+strings.Join(providers.Names(), ", "))
	}
	out.Provider = t.Name
	if inst == "" {
		var err error
		if inst, err = a.DefaultInstance(nil, t.Name); err != nil {
			return nil, err
		}
	}
	if err := manifest.CheckInstanceName(inst); err != nil {
		return nil, err
	}
	out.Instance = inst
	n, err := argsCount(t, out.Args)
	if err != nil {
		return nil, err
	}
	if out.Count <= 0 {
		out.Count = max(n, 1)
	}
	if out.Count > manifest.MaxCount {
		return nil, fmt.Errorf("checkout of %d hosts: at most %d hosts per checkout", out.Count, manifest.MaxCount)
	}
	if err := checkArgNames(t, out.Args); err != nil {
		return nil, err
	}
	// Every imperative checkout has a lease, as every manifest host has:
	// the instance's default unless asked otherwise, so that reap takes
	// forgotten hosts back.
	decl := a.ProviderConfig(nil, t.Name, inst)
	if out.Lease == 0 {
		out.Lease = decl.DefaultLease()
	} else if why := decl.CheckLease(out.Lease); why != "" {
		return nil, Hint(errors.New(why), "ask for a shorter lease")
	}
	return out, nil
}

// argsCount takes the number of hosts out of the arguments, as the Python
// broker's args files give it: _count (its API's name) always, and count
// when the provider takes no argument of that name (a container's args
// file; an AWX workflow's count stays its extra var). 0: none given. The
// count of Count (--count) wins over it.
func argsCount(t *providers.Type, args map[string]any) (int, error) {
	n := 0
	for _, k := range []string{"_count", "count"} {
		v, ok := args[k]
		if !ok {
			continue
		}
		if k == "count" && (t.ArgsSchema == nil || t.ArgsSchema.Open || slices.Contains(t.ArgsSchema.Names(), k)) {
			continue
		}
		delete(args, k)
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			var err error
			if f, err = strconv.ParseFloat(x, 64); err != nil {
				return 0, fmt.Errorf("argument %s: %q is not a whole number", k, x)
			}
		default:
			return 0, fmt.Errorf("argument %s: want a whole number", k)
		}
		if f < 1 || f != math.Trunc(f) {
			return 0, fmt.Errorf("argument %s: want a whole number, 1 or more, not %v", k, v)
		}
		if n == 0 {
			n = int(f)
		}
	}
	return n, nil
}

func nickHint(nicks []*manifest.Nick) string {
	if len(nicks) == 0 {
		return "declare nicks in " + SettingsFile + `: nick "rhel9" { provider = "sim" args = { … } }`
	}
	names := make([]string, 0, len(nicks))
	for _, n := range nicks {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return "known nicks: " + strings.Join(names, ", ")
}

func providerTypeNames() []string {
	var out []string
	for _, t := range providers.Types() {
		out = append(out, t.Name)
	}
	return out
}

// checkArgNames checks arguments against the provider's argument schema,
// the same check a manifest's args get.
func checkArgNames(t *providers.Type, args map[string]any) error {
	errs := t.CheckArgs(args)
	if len(errs) == 0 {
		return nil
	}
	return Hint(fmt.Errorf("provider %s: %w", t.Name, errors.Join(errs...)),
		"its arguments: `broker providers "+t.Name+"`")
}

// ReadArgsFile reads a JSON or YAML file whose top-level keys become
// arguments (--args-file). A file holding a list of maps is merged in
// order, a later map's keys winning, as the Python broker merges it. An
// empty file is an error, as it is there.
func ReadArgsFile(path string) (map[string]any, error) {
	v, err := ReadValueFile(path)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		if len(x) > 0 {
			return x, nil
		}
	case []any:
		out := map[string]any{}
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("--args-file %s: item %d of the list is %s, not a map of argument names to values", path, i, describeValue(e))
			}
			maps.Copy(out, m)
		}
		if len(out) > 0 {
			return out, nil
		}
	default:
		return nil, fmt.Errorf("--args-file %s: want a map of argument names to values (or a list of such maps), got %s", path, describeValue(v))
	}
	return nil, fmt.Errorf("--args-file %s: no arguments in the file", path)
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "empty"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// ReadValueFile reads a .json, .yaml or .yml file into a JSON-shaped value.
func ReadValueFile(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return v, nil
	default:
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return jsonShape(v), nil
	}
}

// IsValueFile reports whether s names an existing .json/.yaml/.yml file:
// such an argument value is read as the argument's value, as the Python
// broker does.
func IsValueFile(s string) bool {
	switch strings.ToLower(filepath.Ext(s)) {
	case ".json", ".yaml", ".yml":
	default:
		return false
	}
	st, err := os.Stat(s)
	return err == nil && st.Mode().IsRegular()
}

// jsonShape turns YAML-decoded values into JSON-shaped ones.
func jsonShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonShape(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonShape(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonShape(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
}

// JSONShape is jsonShape for callers outside the package.
func JSONShape(v any) any { return jsonShape(v) }
