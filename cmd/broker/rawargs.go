package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/labbroker/broker/internal/app"
	"github.com/labbroker/broker/internal/suggest"
	"github.com/labbroker/broker/providers"
)

// Commands that take provider arguments (checkout, execute, providers)
// cannot declare them to kong: any --key value is an argument. kong parses
// the declared flags that come first; from the first flag it does not know,
// the rest arrives raw and is parsed here, with the same declared flags
// recognised again, so flag order does not matter:
//
//	--key value, --key=value, key=value   provider argument key, spelled as written
//	                                      (--workflow-arg1 is workflow-arg1, as the Python
//	                                      broker sends it), except names a provider declares
//	                                      (--container-host is container_host)
//	--TYPE INSTANCE                       instance of provider TYPE (--AnsibleTower testing)
//	--flag                                a declared boolean, or key = "true" before another flag;
//	                                      last, with no value, it is set aside (TrailingBare) for
//	                                      the command to drop, as the Python broker drops it
//	-- CMD…                               the command (execute)
//
// Values are split on the first "=" only. A value that names an existing
// .json, .yaml or .yml file is read as the argument's value.

// globalRaw are broker's global flags, recognised among provider arguments
// too: `broker checkout --nick rhel9 -e lab --output-file out.json` sets
// the environment and the output file, never provider arguments named e
// and output_file.
func (g *Globals) globalRaw() []rawFlag {
	return []rawFlag{
		{names: []string{"--environment", "-e"}, set: setString(&g.Environment)},
		{names: []string{"--output-file"}, set: setString(&g.OutputFile)},
		{names: []string{"--broker-directory"}, set: setString(&g.BrokerDirectory)},
		{names: []string{"--log-level"}, set: setString(&g.LogLevel)},
		{names: []string{"--log-file"}, set: setString(&g.LogFile)},
		{names: []string{"--no-color"}, bool: true, set: setBool(&g.NoColor)},
		{names: []string{"--insecure-ignore-host-key"}, bool: true, set: setBool(&g.InsecureIgnoreHostKey)},
	}
}

// rawFlag is a declared flag the raw parser recognises.
type rawFlag struct {
	names []string // "--nick", "-n"
	bool  bool
	set   func(string) error
	// bare, if set, is the value of the flag written without one (at the
	// end, or before another flag): the Python README's `--artifacts`.
	bare string
}

// rawResult is what the raw parser found beyond declared flags.
type rawResult struct {
	Args map[string]any
	// Instances maps provider type (canonical) to instance, from --TYPE INSTANCE.
	Instances map[string]string
	// Positionals are bare words (no leading dash, no "=").
	Positionals []string
	// Command is what followed "--".
	Command []string
	Help    bool
	// TrailingBare is the key of an undeclared --flag written last with no
	// value, recorded in Args as "true". The Python broker drops such a
	// flag (it pairs keys with values); checkout and execute do too, with
	// a note (dropTrailingBare); providers reads it as a listing.
	TrailingBare string
}

// dropTrailingBare removes a trailing bare flag from the arguments, as the
// Python broker does, and says so.
func (r *rawResult) dropTrailingBare(g *Globals) {
	if r.TrailingBare == "" {
		return
	}
	delete(r.Args, r.TrailingBare)
	g.note("ignoring --%s: it is last and has no value, and the Python broker drops such a flag; write %s=true to pass it", r.TrailingBare, r.TrailingBare)
	r.TrailingBare = ""
}

func parseRaw(tokens []string, flags []rawFlag) (*rawResult, error) {
	r := &rawResult{Args: map[string]any{}, Instances: map[string]string{}}
	find := func(name string) *rawFlag {
		for i := range flags {
			for _, n := range flags[i].names {
				if n == name {
					return &flags[i]
				}
			}
		}
		return nil
	}
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok == "--":
			r.Command = append(r.Command, tokens[i+1:]...)
			return r, finishArgs(r)
		case tok == "--help" || tok == "-h":
			r.Help = true
			continue
		case strings.HasPrefix(tok, "-") && len(tok) > 1 && !isNumber(tok):
			name, value, hasValue := strings.Cut(tok, "=")
			next := func() (string, bool) {
				if hasValue {
					return value, true
				}
				if i+1 < len(tokens) && (!strings.HasPrefix(tokens[i+1], "-") || isNumber(tokens[i+1])) && tokens[i+1] != "--" {
					i++
					return tokens[i], true
				}
				return "", false
			}
			if f := find(name); f != nil {
				if f.bool {
					v := "true"
					if hasValue {
						v = value
					}
					if err := f.set(v); err != nil {
						return nil, fmt.Errorf("%s: %w", name, err)
					}
					continue
				}
				v, ok := next()
				if !ok && f.bare != "" {
					v, ok = f.bare, true
				}
				if !ok {
					return nil, fmt.Errorf("%s needs a value", name)
				}
				if err := f.set(v); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				continue
			}
			key := strings.TrimLeft(name, "-")
			if key == "" {
				return nil, fmt.Errorf("cannot read %q", tok)
			}
			if err := nearFlag(name, key, flags); err != nil {
				return nil, err
			}
			v, ok := next()
			if t, isProv := providers.Lookup(key); isProv && ok {
				r.Instances[t.Name] = v
				continue
			}
			if !ok {
				v = "true"
				if i == len(tokens)-1 {
					r.TrailingBare = argName(key)
				}
			}
			r.Args[argName(key)] = v
		case strings.Contains(tok, "=") && !strings.HasPrefix(tok, "="):
			k, v, _ := strings.Cut(tok, "=")
			r.Args[argName(k)] = v
		default:
			r.Positionals = append(r.Positionals, tok)
		}
	}
	return r, finishArgs(r)
}

// nearFlag refuses --key when it is a misspelling of one of broker's own
// flags (--leese for --lease) rather than an argument some provider
// declares: silently sending it to the provider would lose the flag. The
// key=value form is always an argument, the way to say "I mean it".
func nearFlag(name, key string, flags []rawFlag) error {
	if len([]rune(key)) < 4 || providerArgument(argName(key)) {
		return nil
	}
	var long []string
	for _, f := range flags {
		for _, n := range f.names {
			if strings.HasPrefix(n, "--") {
				long = append(long, strings.TrimPrefix(n, "--"))
			}
		}
	}
	best := suggest.Within(key, long, 2)
	if best == "" {
		return nil
	}
	return app.Hint(fmt.Errorf("unknown flag %s, did you mean --%s?", name, best),
		fmt.Sprintf("to pass %q to the provider as an argument, write %s=VALUE", argName(key), key))
}

// providerArgument reports whether some provider type declares name as a
// checkout argument.
func providerArgument(name string) bool {
	for _, t := range providers.Types() {
		if t.ArgsSchema == nil {
			continue
		}
		for _, n := range t.ArgsSchema.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// finishArgs reads file-valued arguments.
func finishArgs(r *rawResult) error {
	for k, v := range r.Args {
		s, ok := v.(string)
		if !ok || !app.IsValueFile(s) {
			continue
		}
		val, err := app.ReadValueFile(s)
		if err != nil {
			return fmt.Errorf("argument %s: %w", k, err)
		}
		r.Args[k] = val
	}
	return nil
}

// argName is the Python broker's spelling of an argument. Python strips the
// leading dashes and keeps the rest as written, so --workflow-arg1 reaches
// an AWX template as the extra var workflow-arg1; only the options its
// providers declare are spelled with underscores (click turns
// --container-host into container_host). So a name whose underscore form
// some provider declares (container_host, tower_inventory, job_template)
// takes that form, and any other is kept as written.
func argName(k string) string {
	if u := strings.ReplaceAll(k, "-", "_"); u != k && providerArgument(u) {
		return u
	}
	return k
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// Setters for rawFlag.
func setString(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
func setBool(p *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		*p = b
		return err
	}
}
func setInt(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p = n
		return nil
	}
}
func appendString(p *[]string) func(string) error {
	return func(v string) error { *p = append(*p, v); return nil }
}

// parseLabels reads -l k=v,k2=v2 (repeatable) as the Python broker does: a
// key without "=" is a label without value (k2 is k2=""), and a value
// keeps any further "=" (k3=v3=z4 is k3 = "v3=z4").
func parseLabels(specs []string) (map[string]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range specs {
		for _, kv := range strings.Split(s, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if k == "" {
				return nil, app.Hint(fmt.Errorf("label %q has no key", kv), "write labels as -l team=qe,purpose=ci")
			}
			out[k] = v
		}
	}
	return out, nil
}

// cutType splits TYPE[.INSTANCE].
func cutType(s string) (typ, inst string, ok bool) { return strings.Cut(s, ".") }
