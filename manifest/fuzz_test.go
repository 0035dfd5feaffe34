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
		_ = Format(src)
	})
}
