package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Mode says which kind of file is decoded.
type Mode int

const (
	// ModeManifest decodes a suite's manifest (lab.hcl): environment,
	// variables, locals, providers, nicks, hosts, hooks, state and ssh.
	ModeManifest Mode = iota
	// ModeSettings decodes broker.hcl in the broker directory: providers,
	// nicks, locals, ssh, logging, inventory and state.
	ModeSettings
)

func (m Mode) String() string {
	switch m {
	case ModeManifest:
		return "manifest"
	case ModeSettings:
		return "settings"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options steer a Load.
type Options struct {
	Mode Mode
	// Vars are raw --var name=value values. A value is taken literally
	// for a string variable and parsed as an HCL expression otherwise.
	Vars map[string]string
	// VarFiles are .hcl or .json files of name = value, applied in order.
	VarFiles []string
	// Values are variable values a saved plan was made with: they come
	// after the defaults and before var files, BROKER_VAR_<name> and
	// --var (the caller checks that those did not change them).
	Values map[string]cty.Value
	// LookupEnv reads the environment for env() and BROKER_VAR_<name>;
	// nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Schemas finds provider types; nil: no type is known.
	Schemas SchemaSource
	// SchemaNames lists accepted type names, for "did you mean" hints.
	SchemaNames func() []string
	// KnownProviders and KnownNicks are declared elsewhere (the settings
	// file) and may be named from the manifest; a manifest's own
	// declaration of the same name wins.
	KnownProviders []*Provider
	KnownNicks     []*Nick
	// DefaultLease is given to hosts without a lease attribute; 0: none.
	DefaultLease time.Duration
}

// Load decodes one file, or every *.hcl file of a directory in name order.
// The returned Config is never nil: its Files and Sources are set for
// rendering diagnostics even when decoding failed.
func Load(path string, opts Options) (*Config, hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return newConfig(), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read manifest",
			Detail:   fmt.Sprintf("Cannot read %s: %s.", path, osErrText(err)),
		}}
	}
	sources := map[string][]byte{}
	var names []string
	dir := filepath.Dir(path)
	if st.IsDir() {
		dir = path
		entries, err := os.ReadDir(path)
		if err != nil {
			return newConfig(), hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Failed to read manifest directory",
				Detail:   fmt.Sprintf("Cannot list %s: %s.", path, osErrText(err)),
			}}
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			names = append(names, filepath.Join(path, e.Name()))
		}
		if len(names) == 0 {
			return newConfig(), hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No manifest files",
				Detail:   fmt.Sprintf("The directory %s has no *.hcl files.", path),
			}}
		}
	} else {
		names = []string{path}
	}
	var diags hcl.Diagnostics
	for _, n := range names {
		b, err := ReadRegularFile(n)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failed to read manifest",
				Detail:   fmt.Sprintf("Cannot read %s: %s.", n, readErrText(err)),
			})
			continue
		}
		sources[n] = b
	}
	c, more := load(sources, dir, "", opts)
	return c, append(diags, more...)
}

// LoadSources decodes in-memory files (a plan file's embedded manifest).
// Relative names and paths resolve against baseDir.
func LoadSources(sources map[string][]byte, baseDir string, opts Options) (*Config, hcl.Diagnostics) {
	return load(sources, baseDir, baseDir, opts)
}

func newConfig() *Config {
	return &Config{
		Locals:  map[string]cty.Value{},
		Files:   map[string]*hcl.File{},
		Sources: map[string][]byte{},
	}
}

func osErrText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// loader carries one decode's state.
type loader struct {
	opts   Options
	cfg    *Config
	lookup func(string) (string, bool)
	// varDefs are the variables by name, valid after decodeVariables.
	varDefs map[string]*Variable
	ctx     *hcl.EvalContext
	// hostArgs keeps each host's unconverted args for diagnostics.
	hostRefs map[string][]hostRef
	// dynamic are the host blocks whose args or labels refer to hosts.
	dynamic []*Host
	// argDiags are the args problems reported, so that a nick's is
	// reported once however many hosts use it.
	argDiags map[string]bool
	// unsetEnv, while a provider's settings are decoded, collects the
	// names env() finds unset (with no default) instead of failing.
	unsetEnv *[]string
}

func load(sources map[string][]byte, dir, srcBase string, opts Options) (*Config, hcl.Diagnostics) {
	c := newConfig()
	c.dir, c.srcBase = dir, srcBase
	c.knownProviders, c.knownNicks = opts.KnownProviders, opts.KnownNicks
	c.schemas = opts.Schemas
	l := &loader{opts: opts, cfg: c, lookup: opts.LookupEnv}
	if l.lookup == nil {
		l.lookup = os.LookupEnv
	}

	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, n := range names {
		src := sources[n]
		c.Sources[n] = src
		var f *hcl.File
		var d hcl.Diagnostics
		if nd := nestingDiag(src, n, strings.HasSuffix(n, ".json")); nd != nil {
			diags = append(diags, nd)
			c.Files[n] = &hcl.File{Bytes: src} // for the diagnostic's snippet
			continue
		}
		if strings.HasSuffix(n, ".json") {
			f, d = p.ParseJSON(src, n)
		} else {
			f, d = p.ParseHCL(src, n)
		}
		diags = append(diags, d...)
		if f != nil {
			c.Files[n] = f
			files = append(files, f)
		}
	}
	// A syntax error makes everything after it guesswork: stop there.
	if diags.HasErrors() {
		return c, diags
	}
	body := hcl.MergeFiles(files)
	content, d := body.Content(rootSchema(opts.Mode))
	diags = append(diags, d...)
	if content == nil {
		return c, diags
	}

	l.ctx = &hcl.EvalContext{Functions: l.functions()}
	diags = append(diags, l.decodeVariables(content.Blocks.OfType("variable"))...)
	diags = append(diags, l.decodeLocals(content.Blocks.OfType("locals"))...)
	c.evalCtx = l.ctx

	if a, ok := content.Attributes["environment"]; ok {
		diags = append(diags, l.decodeEnvironment(a)...)
	}
	diags = append(diags, l.decodeProviders(content.Blocks.OfType("provider"))...)
	diags = append(diags, l.decodeNicks(content.Blocks.OfType("nick"))...)
	diags = append(diags, l.decodeHosts(content.Blocks.OfType("host"))...)
	diags = append(diags, l.checkLeases()...)
	diags = append(diags, l.decodeHooks(content.Blocks.OfType("hook"))...)
	diags = append(diags, l.decodeActions(content.Blocks.OfType("action"))...)
	diags = append(diags, l.decodeOutputs(content.Blocks.OfType("output"))...)
	if !diags.HasErrors() {
		diags = append(diags, l.checkActionsAndOutputs()...)
	}
	diags = append(diags, l.decodeSettingsBlocks(content)...)
	return c, diags
}

func rootSchema(m Mode) *hcl.BodySchema {
	s := &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "locals"},
			{Type: "provider", LabelNames: []string{"type", "instance"}},
			{Type: "nick", LabelNames: []string{"name"}},
			{Type: "state"},
			{Type: "ssh"},
		},
	}
	if m == ModeSettings {
		s.Blocks = append(s.Blocks,
			hcl.BlockHeaderSchema{Type: "logging"},
			hcl.BlockHeaderSchema{Type: "inventory"},
		)
		return s
	}
	s.Attributes = []hcl.AttributeSchema{{Name: "environment"}}
	s.Blocks = append(s.Blocks,
		hcl.BlockHeaderSchema{Type: "variable", LabelNames: []string{"name"}},
		hcl.BlockHeaderSchema{Type: "host", LabelNames: []string{"name"}},
		hcl.BlockHeaderSchema{Type: "hook", LabelNames: []string{"name"}},
		hcl.BlockHeaderSchema{Type: "action", LabelNames: []string{"name"}},
		hcl.BlockHeaderSchema{Type: "output", LabelNames: []string{"name"}},
	)
	return s
}

var envNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// CheckEnvironmentName says why name cannot name an environment; nil when
// it can. The manifest's environment attribute and --environment are
// checked alike: the name ends up in file names and keys.
func CheckEnvironmentName(name string) error {
	if !envNameRe.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("environment name %q may only have letters, digits, '-', '_' and '.', and may not be \".\" or \"..\"", name)
	}
	return nil
}

// CheckInstanceName says why name cannot name a provider instance; nil
// when it can. Instances declared in blocks and named on the command line
// (--provider TYPE.INSTANCE) are checked alike.
func CheckInstanceName(name string) error {
	if !hclsyntax.ValidIdentifier(name) {
		return fmt.Errorf("provider instance name %q must start with a letter or underscore and have only letters, digits, underscores and dashes", name)
	}
	return nil
}

// detail makes an error of this package's Check functions a Detail.
func detail(err error) string {
	return "The " + err.Error() + "."
}

func (l *loader) decodeEnvironment(a *hcl.Attribute) hcl.Diagnostics {
	l.cfg.EnvironmentRange = a.Expr.Range()
	s, diags := l.evalString(a.Expr, "environment")
	if diags.HasErrors() {
		return diags
	}
	if err := CheckEnvironmentName(s); err != nil {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid environment name",
			Detail:   detail(err),
			Subject:  a.Expr.Range().Ptr(),
		})
	}
	l.cfg.Environment = s
	return diags
}

// duplicate reports a second block of one kind and name.
func duplicate(kind, name string, first, again hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", kind),
		Detail: fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique.",
			kind, name, rangeAt(first)),
		Subject: again.Ptr(),
	}
}

// rangeAt is "file:line" for a Detail.
func rangeAt(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}
