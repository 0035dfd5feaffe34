package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/labbroker/broker/internal/pyconfig"
	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

// A chunk names a part of the settings, as the Python broker's `config`
// commands do, dots separating the levels:
//
//	ssh, logging, inventory, state         the block
//	ssh.user (ssh.host_username)           one attribute of it
//	nicks, nicks.rhel9 (nick.rhel9)        every nick, one nick
//	awx (AnsibleTower)                     every instance of the type
//	awx.testing (AnsibleTower.instances.testing, AnsibleTower:testing)
//	awx.testing.url (…base_url)            one attribute of an instance
//	awx.url                                that attribute of every instance
//	inventory_fields                       inventory.fields
//	inventory_list_vars                    inventory.list_vars
//
// Python key names are translated (pyconfig.PythonKey).

// Chunk is what a chunk name designates in a settings body.
type Chunk struct {
	// Name is the chunk in this broker's words (awx.testing.url).
	Name string
	// Kind is the block type: provider, nick, ssh, logging, inventory, state.
	Kind string
	// Type and Instance name a provider chunk's type and instance
	// (Instance empty: every instance); Instance is a nick's name.
	Type, Instance string
	// Attr is the attribute a chunk names inside its blocks; empty: the
	// blocks themselves.
	Attr string
	// Blocks are the blocks found.
	Blocks []*hclwrite.Block
	// Seconds is set when the chunk's Python key holds seconds, which
	// this broker's attribute takes as a duration.
	Seconds bool
}

// BlockChunk reports whether the chunk names whole blocks.
func (c *Chunk) BlockChunk() bool { return c.Attr == "" }

var errChunkHelp = "a chunk is ssh, logging, inventory, state, nicks, nicks.NAME, a provider type (awx, docker, sim, static or their Python names), TYPE.INSTANCE, and .KEY under any of them"

// ResolveChunk finds what chunk names in body. With create, a missing
// block (an instance, a nick, ssh, …) is added, so that it can be set.
func ResolveChunk(body *hclwrite.Body, chunk string, create bool) (*Chunk, error) {
	chunk = strings.TrimSpace(chunk)
	if chunk == "" {
		return nil, Hint(errors.New("empty chunk"), errChunkHelp)
	}
	chunk = strings.Replace(chunk, ":", ".", 1) // AnsibleTower:testing
	segs := strings.Split(chunk, ".")
	for _, s := range segs {
		if s == "" {
			return nil, Hint(fmt.Errorf("chunk %q has an empty part", chunk), errChunkHelp)
		}
	}
	head := strings.ToLower(segs[0])
	if head == "provider" && len(segs) > 1 {
		segs, head = segs[1:], strings.ToLower(segs[1])
	}
	if why, ok := pyconfig.PythonOnlyBlocks[head]; ok {
		return nil, fmt.Errorf("chunk %q: %s", chunk, why)
	}
	switch head {
	case "inventory_fields", "inventory_list_vars":
		if len(segs) != 1 {
			break
		}
		segs, head = []string{"inventory", map[string]string{"inventory_fields": "fields", "inventory_list_vars": "list_vars"}[head]}, "inventory"
		fallthrough
	case "ssh", "logging", "inventory", "state":
		c := &Chunk{Kind: head, Name: head}
		if b := findBlock(body, head, nil); b != nil {
			c.Blocks = []*hclwrite.Block{b}
		} else if create {
			c.Blocks = []*hclwrite.Block{body.AppendNewBlock(head, nil)}
		}
		switch len(segs) {
		case 1:
			return c, nil
		case 2:
			attr, secs, err := chunkAttr(head, segs[1])
			if err != nil {
				return nil, fmt.Errorf("chunk %q: %w", chunk, err)
			}
			c.Attr, c.Name, c.Seconds = attr, head+"."+attr, secs
			return c, nil
		}
		return nil, Hint(fmt.Errorf("chunk %q: too many parts", chunk), errChunkHelp)
	case "nicks", "nick":
		c := &Chunk{Kind: "nick", Name: "nicks"}
		for _, b := range body.Blocks() {
			if b.Type() == "nick" && len(b.Labels()) == 1 && (len(segs) == 1 || b.Labels()[0] == segs[1]) {
				c.Blocks = append(c.Blocks, b)
			}
		}
		switch len(segs) {
		case 1:
			return c, nil
		case 2:
			c.Instance, c.Name = segs[1], "nicks."+segs[1]
			if len(c.Blocks) == 0 && create {
				if !hclsyntax.ValidIdentifier(segs[1]) && strings.ContainsAny(segs[1], " \t\"") {
					return nil, fmt.Errorf("chunk %q: %q is not a nick name", chunk, segs[1])
				}
				c.Blocks = append(c.Blocks, body.AppendNewBlock("nick", []string{segs[1]}))
			}
			return c, nil
		}
		return nil, fmt.Errorf("chunk %q: a nick is set as a whole (broker config set nicks.NAME FILE)", chunk)
	}
	t, ok := providers.Lookup(segs[0])
	if !ok {
		return nil, Hint(fmt.Errorf("unknown chunk %q", chunk), errChunkHelp)
	}
	c := &Chunk{Kind: "provider", Type: t.Name, Name: t.Name}
	rest := segs[1:]
	explicit := false
	if len(rest) > 0 && strings.EqualFold(rest[0], "instances") {
		rest, explicit = rest[1:], true
	}
	all := providerBlocks(body, t)
	if len(rest) == 0 {
		c.Blocks = all
		return c, nil
	}
	var inst *hclwrite.Block
	for _, b := range all {
		if l := b.Labels(); len(l) == 2 && strings.EqualFold(l[1], rest[0]) {
			inst = b
		}
	}
	switch {
	case inst != nil || explicit || len(rest) == 2:
		c.Instance = rest[0]
		if inst != nil {
			c.Instance = inst.Labels()[1]
		}
		c.Name = t.Name + "." + c.Instance
		if err := manifest.CheckInstanceName(c.Instance); err != nil {
			return nil, fmt.Errorf("chunk %q: %w", chunk, err)
		}
		if inst == nil && create {
			inst = body.AppendNewBlock("provider", []string{t.Name, c.Instance})
		}
		if inst != nil {
			c.Blocks = []*hclwrite.Block{inst}
		}
		rest = rest[1:]
	default:
		// TYPE.KEY: the key of every instance, as the Python broker's
		// provider-level settings.
		c.Blocks = all
		if len(c.Blocks) == 0 && create {
			c.Blocks = []*hclwrite.Block{body.AppendNewBlock("provider", []string{t.Name, "default"})}
		}
	}
	switch len(rest) {
	case 0:
		return c, nil
	case 1:
		attr, secs, err := chunkAttr(t.Name, rest[0])
		if err != nil {
			return nil, fmt.Errorf("chunk %q: %w", chunk, err)
		}
		c.Attr, c.Name, c.Seconds = attr, c.Name+"."+attr, secs
		return c, nil
	}
	return nil, Hint(fmt.Errorf("chunk %q: too many parts", chunk), errChunkHelp)
}

// chunkAttr translates a Python key of block (ssh, logging, a provider
// type) to this broker's attribute name.
func chunkAttr(block, key string) (name string, seconds bool, err error) {
	if k, ok := pyconfig.PythonKey(block, key); ok {
		if k.Ignore != "" {
			return "", false, fmt.Errorf("%s has no counterpart here: %s", key, k.Ignore)
		}
		return k.To, k.Seconds, nil
	}
	name = strings.ToLower(key)
	if !hclsyntax.ValidIdentifier(name) {
		return "", false, fmt.Errorf("%q is not an attribute name", key)
	}
	return name, false, nil
}

// ViewChunk returns the text of chunk in the settings source src (already
// masked by the caller): the blocks it names, or its attribute's value in
// each of them (prefixed by the block's name when there are several).
func ViewChunk(src []byte, filename, chunk string) ([]byte, error) {
	f, diags := hclwrite.ParseConfig(ExpandOneLineBlocks(src, filename), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s does not parse; run broker config validate", filename)
	}
	c, err := ResolveChunk(f.Body(), chunk, false)
	if err != nil {
		return nil, err
	}
	if len(c.Blocks) == 0 {
		return nil, Hint(fmt.Errorf("chunk %q: the settings have no %s", chunk, c.Name), "broker config view lists the settings")
	}
	var out bytes.Buffer
	if c.BlockChunk() {
		for i, b := range c.Blocks {
			if i > 0 {
				out.WriteString("\n")
			}
			out.Write(bytes.TrimLeft(b.BuildTokens(nil).Bytes(), "\n"))
		}
		return hclwrite.Format(out.Bytes()), nil
	}
	found := false
	for _, b := range c.Blocks {
		a := findAttr(b.Body(), c.Attr)
		if a == nil {
			continue
		}
		found = true
		if len(c.Blocks) > 1 {
			fmt.Fprintf(&out, "%s: ", blockName(b))
		}
		out.WriteString(exprText(a.Expr().BuildTokens(nil)) + "\n")
	}
	if !found {
		return nil, fmt.Errorf("chunk %q: %s is not set", chunk, c.Name)
	}
	return out.Bytes(), nil
}

func findAttr(body *hclwrite.Body, name string) *hclwrite.Attribute {
	for n, a := range body.Attributes() {
		if strings.EqualFold(n, name) {
			return a
		}
	}
	return nil
}

func blockName(b *hclwrite.Block) string {
	if b.Type() == "provider" {
		return strings.Join(b.Labels(), ".")
	}
	return strings.Join(append([]string{b.Type()}, b.Labels()...), ".")
}

// exprText is an expression's text; a plain quoted string is given
// without its quotes.
func exprText(toks hclwrite.Tokens) string {
	s := strings.TrimSpace(string(toks.Bytes()))
	expr, diags := hclsyntax.ParseExpression([]byte(s), "", hcl.InitialPos)
	if !diags.HasErrors() {
		if v, d := expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			return v.AsString()
		}
	}
	return s
}

// SetChunk sets chunk in the settings source src to value: for an
// attribute, a value written as environment overrides are (number,
// true/false, [list], else string) or, with data set, the data decoded
// from a YAML or JSON file; for blocks (an instance, a nick, ssh…), data
// must be a map, which replaces the block's settings (Python key names
// translated; a nick's map is its args, as in the Python broker).
func SetChunk(src []byte, filename, chunk, value string, data any) ([]byte, *Chunk, error) {
	f, diags := hclwrite.ParseConfig(ExpandOneLineBlocks(src, filename), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("%s does not parse; fix it first (broker config validate shows where)", filename)
	}
	c, err := ResolveChunk(f.Body(), chunk, true)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Blocks) == 0 {
		return nil, nil, fmt.Errorf("chunk %q: name one block to set (%s has several or none)", chunk, c.Name)
	}
	if !c.BlockChunk() {
		for _, b := range c.Blocks {
			var err error
			if data != nil {
				b.Body().SetAttributeValue(attrName(b.Body(), c.Attr), manifest.FromGo(data))
			} else if m := envCallValue.FindStringSubmatch(strings.TrimSpace(value)); m != nil {
				b.Body().SetAttributeRaw(attrName(b.Body(), c.Attr), hclwrite.Tokens{
					{Type: hclsyntax.TokenIdent, Bytes: []byte("env")},
					{Type: hclsyntax.TokenOParen, Bytes: []byte("(")},
					{Type: hclsyntax.TokenOQuote, Bytes: []byte(`"`)},
					{Type: hclsyntax.TokenQuotedLit, Bytes: []byte(m[1])},
					{Type: hclsyntax.TokenCQuote, Bytes: []byte(`"`)},
					{Type: hclsyntax.TokenCParen, Bytes: []byte(")")},
				})
			} else if c.Seconds {
				err = setAttr(b.Body(), c.Attr, pyconfig.SecondsValue(value))
			} else {
				err = setAttr(b.Body(), c.Attr, value)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("chunk %q: %w", chunk, err)
			}
		}
		return hclwrite.Format(f.Bytes()), c, nil
	}
	m, ok := data.(map[string]any)
	if !ok || len(c.Blocks) != 1 {
		return nil, nil, Hint(fmt.Errorf("chunk %q names a block: give a YAML or JSON file holding a map", chunk),
			"or set one attribute: broker config set "+chunk+".KEY VALUE")
	}
	b := c.Blocks[0]
	body := b.Body()
	keep := map[string]bool{}
	if c.Kind == "nick" {
		keep["provider"] = true
		if findAttr(body, "provider") == nil {
			if p, ok := m["provider"].(string); ok {
				body.SetAttributeValue("provider", cty.StringVal(p))
			}
		}
	}
	for n := range body.Attributes() {
		if !keep[n] {
			body.RemoveAttribute(n)
		}
	}
	for _, blk := range body.Blocks() {
		body.RemoveBlock(blk)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if c.Kind == "nick" {
		args := map[string]any{}
		for _, k := range keys {
			if k != "provider" {
				args[k] = m[k]
			}
		}
		if a, ok := m["args"].(map[string]any); ok && len(m) <= 2 {
			args = a
		}
		if findAttr(body, "provider") == nil {
			p := pyconfig.NickProvider(args)
			if p == "" {
				return nil, nil, Hint(fmt.Errorf("chunk %q: the nick's provider is not told by its arguments", chunk),
					"add provider: TYPE to the file (workflow or job_template tell awx, container_host docker, test_action sim)")
			}
			body.SetAttributeValue("provider", cty.StringVal(p))
		}
		body.SetAttributeValue("args", manifest.FromGo(args))
		return hclwrite.Format(f.Bytes()), c, nil
	}
	block := c.Kind
	if c.Kind == "provider" {
		block = c.Type
	}
	for _, k := range keys {
		v := m[k]
		if v == nil {
			continue
		}
		name, _, err := chunkAttr(block, k)
		if err != nil {
			continue // no counterpart: left out, as config import does
		}
		if kk, ok := pyconfig.PythonKey(block, k); ok && kk.Seconds {
			v = pyconfig.SecondsValue(fmt.Sprint(v))
		}
		body.SetAttributeValue(name, manifest.FromGo(v))
	}
	return hclwrite.Format(f.Bytes()), c, nil
}

// envCallValue is a value given as env("NAME"): written as the call, so
// that a secret is read from the environment.
var envCallValue = regexp.MustCompile(`^env\("([A-Za-z_][A-Za-z0-9_]*)"\)$`)

func attrName(body *hclwrite.Body, key string) string {
	for n := range body.Attributes() {
		if strings.EqualFold(n, key) {
			return n
		}
	}
	return strings.ToLower(key)
}

// ReplaceChunk removes the blocks chunk names from src and adds the
// blocks of repl (HCL) in their place. It is how edited or initialised
// chunks are put back; the rest of the file is kept as it is.
func ReplaceChunk(src []byte, filename, chunk string, repl []byte) ([]byte, error) {
	f, diags := hclwrite.ParseConfig(ExpandOneLineBlocks(src, filename), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s does not parse; fix it first (broker config validate shows where)", filename)
	}
	r, diags := hclwrite.ParseConfig(repl, "chunk", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: map[string]*hcl.File{}}
	}
	if len(r.Body().Attributes()) > 0 {
		return nil, fmt.Errorf("chunk %q: the new text has attributes outside any block", chunk)
	}
	c, err := ResolveChunk(f.Body(), chunk, false)
	if err != nil {
		return nil, err
	}
	if !c.BlockChunk() {
		return nil, fmt.Errorf("chunk %q names an attribute; set it with broker config set", chunk)
	}
	for _, b := range c.Blocks {
		f.Body().RemoveBlock(b)
	}
	for _, b := range r.Body().Blocks() {
		f.Body().AppendNewline()
		f.Body().AppendBlock(b)
	}
	return hclwrite.Format(f.Bytes()), nil
}

// ChunkText returns the HCL text of the blocks chunk names in src.
func ChunkText(src []byte, filename, chunk string) ([]byte, error) {
	f, diags := hclwrite.ParseConfig(ExpandOneLineBlocks(src, filename), filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s does not parse", filename)
	}
	c, err := ResolveChunk(f.Body(), chunk, false)
	if err != nil {
		return nil, err
	}
	if !c.BlockChunk() {
		return nil, fmt.Errorf("chunk %q names an attribute, not blocks", chunk)
	}
	if len(c.Blocks) == 0 {
		return nil, fmt.Errorf("chunk %q: %s has no %s", chunk, filename, c.Name)
	}
	out := hclwrite.NewEmptyFile()
	for i, b := range c.Blocks {
		if i > 0 {
			out.Body().AppendNewline()
		}
		out.Body().AppendBlock(b)
	}
	return hclwrite.Format(out.Bytes()), nil
}

// CheckSettings decodes a settings source as LoadSettings would (without
// the environment's overrides), for a file about to be written.
func CheckSettings(dir, filename string, src []byte, lookupEnv func(string) (string, bool)) (*manifest.Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	cfg, diags := manifest.LoadSources(map[string][]byte{filename: src}, dir, manifest.Options{
		Mode:      manifest.ModeSettings,
		LookupEnv: lookupEnv,
		Schemas:   SchemaSource,
	})
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: cfg.Files}
	}
	return cfg, CheckDefaults(cfg)
}

// BackupSuffix is added to broker.hcl's name for the copy `config set`,
// `edit` and `init CHUNK` leave, which `config restore` puts back.
const BackupSuffix = ".bak"

// WriteSettings replaces <dir>/broker.hcl with src, first copying the
// current file to broker.hcl.bak; it returns whether a backup was made.
func WriteSettings(dir string, src []byte) (bool, error) {
	path := filepath.Join(dir, SettingsFile)
	backed := false
	if old, err := os.ReadFile(path); err == nil {
		if err := writeFileAtomic(path+BackupSuffix, old); err != nil {
			return false, fmt.Errorf("back up settings: %w", err)
		}
		backed = true
	} else if !os.IsNotExist(err) {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return backed, err
	}
	return backed, writeFileAtomic(path, src)
}

// RestoreSettings puts broker.hcl.bak back as broker.hcl; the backup
// stays.
func RestoreSettings(dir string) (string, error) {
	path := filepath.Join(dir, SettingsFile)
	b, err := os.ReadFile(path + BackupSuffix)
	if os.IsNotExist(err) {
		return "", Hint(fmt.Errorf("no backup %s", path+BackupSuffix), "broker config set and broker config edit leave one")
	}
	if err != nil {
		return "", err
	}
	return path + BackupSuffix, writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadDataFile reads a YAML or JSON file's data (a map, a list or a
// scalar), for config set CHUNK FILE.
func ReadDataFile(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
