package app

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/manifest"
	"github.com/labbroker/broker/providers"
)

func providerNames() []string { return providers.Names() }

// ProviderConfig finds the declaration of a provider instance: in the
// manifest first, then in the settings. Nil when neither declares it.
func (a *App) ProviderConfig(cfg *manifest.Config, typ, instance string) *manifest.Provider {
	for _, src := range []*manifest.Config{cfg, a.Settings} {
		if src == nil {
			continue
		}
		for _, p := range src.Providers {
			if p.Type == typ && p.Instance == instance {
				return p
			}
		}
	}
	return nil
}

// DefaultInstance names the instance of a provider type to use when none
// is named: the one with default = true, or the only one, or "default".
func (a *App) DefaultInstance(cfg *manifest.Config, typ string) (string, error) {
	var all []*manifest.Provider
	for _, src := range []*manifest.Config{cfg, a.Settings} {
		if src == nil {
			continue
		}
		for _, p := range src.Providers {
			if p.Type == typ {
				all = append(all, p)
			}
		}
	}
	var defaults []string
	for _, p := range all {
		if p.Default {
			defaults = append(defaults, p.Instance)
		}
	}
	switch {
	case len(defaults) == 1:
		return defaults[0], nil
	case len(defaults) > 1:
		return "", fmt.Errorf("provider %s has %d instances marked default = true (%v): mark exactly one", typ, len(defaults), defaults)
	case len(all) == 1:
		return all[0].Instance, nil
	case len(all) == 0:
		return "default", nil
	}
	names := make([]string, 0, len(all))
	for _, p := range all {
		names = append(names, p.Instance)
	}
	sort.Strings(names)
	return "", Hint(fmt.Errorf("provider %s has several instances (%v) and none is the default", typ, names),
		fmt.Sprintf("name one (e.g. --%s %s) or set default = true on one of them", typ, names[0]))
}

// Provider returns the provider instance typ.instance, making it on first
// use. The declaration that configures it is the manifest's block when
// cfg declares the instance, else the settings' (ProviderConfig): an
// instance is kept per declaration, so a manifest's block is honoured for
// that manifest even after the settings' block made the same instance.
func (a *App) Provider(ctx context.Context, cfg *manifest.Config, typ, instance string) (providers.Provider, error) {
	t, ok := providers.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("unknown provider type %q (known: %v)", typ, providers.Names())
	}
	if err := manifest.CheckInstanceName(instance); err != nil {
		return nil, err
	}
	key := t.Name + "." + instance
	decl := a.ProviderConfig(cfg, t.Name, instance)
	cacheKey := key
	if decl != nil && !slices.Contains(a.Settings.Providers, decl) {
		cacheKey = fmt.Sprintf("%s@%p", key, decl)
	}
	a.mu.Lock()
	if p, ok := a.instances[cacheKey]; ok {
		a.mu.Unlock()
		return p, nil
	}
	a.mu.Unlock()

	if decl != nil {
		if err := decl.UnsetErr(); err != nil {
			return nil, err
		}
	}
	settings := cty.NilVal
	alias := typ
	if decl != nil {
		settings = decl.Settings
		alias = decl.TypeName
	} else if t.Settings != nil {
		// An undeclared instance gets the type's defaults, as if its block
		// were empty; a type with required settings says what is missing.
		v, diags := hcldec.Decode(hcl.EmptyBody(), t.Settings, nil)
		if diags.HasErrors() {
			return nil, Hint(fmt.Errorf("provider instance %s is not configured: %s", key, diags[0].Summary),
				fmt.Sprintf("declare it: provider %q %q { … } in the manifest or in %s", t.Name, instance, SettingsFile))
		}
		settings = v
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	p, err := t.New(ctx, providers.Config{
		Type:           t.Name,
		Alias:          alias,
		Instance:       instance,
		Settings:       settings,
		Directory:      a.Dir,
		User:           a.origin.User,
		Reservations:   st,
		AuthorizedKeys: a.AuthorizedKey,
		Logger:         a.Logger.With("provider", key),
	})
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", key, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if q, ok := a.instances[cacheKey]; ok {
		// Another goroutine made it first; keep one.
		if c, ok := p.(interface{ Close() error }); ok {
			_ = c.Close()
		}
		return q, nil
	}
	a.instances[cacheKey] = p
	return p, nil
}

// MaxConcurrency is the instance's max_concurrency (0: unbounded).
func (a *App) MaxConcurrency(cfg *manifest.Config, typ, instance string) int {
	if d := a.ProviderConfig(cfg, typ, instance); d != nil {
		return d.MaxConcurrency
	}
	return 0
}

// UnsetWarnings warns of every environment variable the settings' provider
// instances (and cfg's, when not nil) read and that is not set, each at
// the env() call: those instances fail when used; nothing else does.
func (a *App) UnsetWarnings(cfg *manifest.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, src := range []*manifest.Config{a.Settings, cfg} {
		if src == nil {
			continue
		}
		for _, p := range src.Providers {
			diags = append(diags, p.UnsetWarnings()...)
		}
	}
	return diags
}
