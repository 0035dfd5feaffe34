package sim

import (
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers/schema"
)

// Operations whose failure can be injected.
const (
	OpCheckout = "checkout"
	OpCheckin  = "checkin"
	OpExtend   = "extend"
	OpSync     = "sync"
)

var allOps = []string{OpCheckout, OpCheckin, OpExtend, OpSync}

// Settings are a sim instance's settings.
type Settings struct {
	// Latency is how long each checkout takes: half before the host is
	// written, half after, so that a kill can land on either side.
	Latency time.Duration `schema:"latency"`
	// FailRate is the chance (0..1) that an operation of FailOn fails.
	FailRate float64 `schema:"fail_rate"`
	// FailOn lists the operations FailRate applies to; all when empty.
	FailOn []string `schema:"fail_on"`
	// FailAddresses are addresses whose checkout always fails.
	FailAddresses []string `schema:"fail_addresses"`
	// Seed seeds the failure draws, so that a run's failures repeat.
	Seed int64 `schema:"seed"`
	// Path is the sim file; default <directory>/sim/<instance>.db.
	Path string `schema:"path"`
	// MaxLease caps leases; zero: no cap.
	MaxLease time.Duration `schema:"max_lease"`
}

// SettingsSchema declares the provider block.
var SettingsSchema = &schema.Schema{
	Fields: []schema.Field{
		{Name: "latency", Type: schema.Duration, Default: "0s", Doc: "how long each checkout takes"},
		{Name: "fail_rate", Type: schema.Number, Default: "0", Doc: "chance that an operation of fail_on fails", Checks: []schema.Check{schema.Between(0, 1)}},
		{Name: "fail_on", Type: schema.StringList, Doc: "operations fail_rate applies to; default all", Checks: []schema.Check{schema.OneOf(allOps...)}},
		{Name: "fail_addresses", Type: schema.StringList, Doc: "addresses whose checkout always fails"},
		{Name: "seed", Type: schema.Int, Doc: "seed of the failure draws, so that a run's failures repeat"},
		{Name: "path", Type: schema.String, Doc: "the sim file; default <broker directory>/sim/INSTANCE.db"},
		{Name: "max_lease", Type: schema.Duration, Doc: "longest lease the sim grants; default no cap"},
	},
}

// ArgsSchema declares the arguments the sim reads; it keeps any others in
// the recipe.
var ArgsSchema = &schema.Schema{
	Open: true,
	Fields: []schema.Field{
		{Name: "os", Type: schema.String, Default: "rhel", Doc: "reported as the os fact"},
		{Name: "memory", Type: schema.Number, Default: "2048", Doc: "reported as the memory_mb fact"},
		{Name: "note", Type: schema.String, InPlace: true, Doc: "free text kept in the recipe; a new note needs no new host"},
	},
}

// SettingsSpec is the provider block's hcldec spec.
func SettingsSpec() hcldec.Spec { return SettingsSchema.Spec() }

// ParseSettings reads a value decoded with SettingsSpec. cty.NilVal or
// null gives the defaults.
func ParseSettings(v cty.Value) (Settings, error) {
	var s Settings
	err := SettingsSchema.DecodeSettings(v, &s)
	return s, err
}
