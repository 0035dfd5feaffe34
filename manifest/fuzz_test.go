package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzLoadSources(f *testing.F) {
	for _, p := range []string{"testdata/lab/lab.hcl", "testdata/fmt/ugly.hcl"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("locals {\n  a = local.b\n  b = local.a\n}\n"))
	f.Add([]byte("host \"a\" {\n  provider = \"sim\"\n  setup { run = [host.b[0].ip] }\n}\nhost \"b\" {\n  provider = \"sim\"\n  teardown { run = [host.a[0].ip] }\n}\n"))
	f.Add([]byte("variable \"o\" {\n  type = object({ a = optional(list(map(string)), []) })\n  default = {}\n}\n"))
	f.Add([]byte("host \"w\" {\n  provider = \"sim\"\n  for_each = { eu = 1, us = 2 }\n  args = { r = each.key, n = each.value }\n}\nhost \"c\" {\n  provider = \"sim\"\n  count = 2\n  args = { p = host.w[\"eu\"].hostname, i = count.index }\n}\n"))
	f.Add([]byte("host \"s\" { provider = \"sim\" }\naction \"a\" {\n  provider = \"sim\"\n  args = { h = host.s[0].hostname }\n  when = true\n  retry {\n    attempts = 2\n  }\n}\naction \"b\" { local = [action.a.result.x] }\noutput \"o\" { value = action.b.status }\n"))
	dir := filepath.Join("testdata", "lab")
	f.Fuzz(func(t *testing.T, src []byte) {
		opts := testOptions()
		opts.Vars = map[string]string{"rhel": "9"}
		cfg, _ := LoadSources(map[string][]byte{"lab.hcl": src}, dir, opts)
		if cfg == nil || cfg.Sources["lab.hcl"] == nil {
			t.Fatal("Config or Sources missing")
		}
		for _, h := range cfg.Hosts {
			for i := 0; i < h.Count && i < 3; i++ {
				_, _ = cfg.ResolveSetup(h, i, HostValues{"name": h.Name}, nil)
				_, _ = cfg.ResolveTeardown(h, i, nil, nil)
				_, _ = cfg.ResolveConnection(h, i, nil, nil)
			}
		}
		for _, hk := range cfg.Hooks {
			_, _, _ = cfg.ResolveHook(hk, nil, nil)
		}
		unknown := map[string][]HostValues{}
		for _, h := range cfg.Hosts {
			for i := 0; i < h.Count && i < 3; i++ {
				_, _, _, _ = cfg.ResolveInstance(h, i, unknown)
			}
			unknown[h.Name] = []HostValues{UnknownHost()}
		}
		for _, a := range cfg.Actions {
			_, _, _, _ = cfg.ResolveAction(a, false, unknown, nil)
			_, _, _, _ = cfg.ResolveAction(a, true, nil, map[string]ActionValues{a.Name: UnknownAction()})
		}
		for _, o := range cfg.Outputs {
			_, _ = cfg.ResolveOutput(o, nil, nil)
		}
		_ = Format(src)
	})
}

// FuzzLoadSettings decodes broker.hcl text: settings decode like a
// manifest, with their own blocks (logging, inventory, state).
func FuzzLoadSettings(f *testing.F) {
	f.Add([]byte("provider \"sim\" \"lab\" {\n  default = true\n}\nnick \"n\" {\n  provider = \"sim.lab\"\n  args = { a = 1 }\n}\n"))
	f.Add([]byte("state {\n  backend   = \"etcd\"\n  endpoints = [\"http://127.0.0.1:2379\"]\n}\nlogging { level = \"debug\" }\ninventory { fields = [\"Host:hostname|name\"] }\n"))
	f.Add([]byte("ssh {\n  user = \"root\"\n  port = 22\n}\nlocals { a = yamldecode(\"b: &b [1]\\nc: [*b, *b]\") }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		opts := testOptions()
		opts.Mode = ModeSettings
		cfg, _ := LoadSources(map[string][]byte{"broker.hcl": src}, "testdata", opts)
		if cfg == nil || cfg.Sources["broker.hcl"] == nil {
			t.Fatal("Config or Sources missing")
		}
	})
}
