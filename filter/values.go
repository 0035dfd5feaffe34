package filter

import (
	"strings"
	"time"

	"github.com/labbroker/broker/state"
)

// Values is what a filter can read about one host. The expr names (the
// tags) are part of broker's interface: change them only with a
// compatibility alias.
type Values struct {
	ID        string `expr:"id"`
	Address   string `expr:"address"`
	Name      string `expr:"name"`
	Hostname  string `expr:"hostname"`
	IP        string `expr:"ip"`
	Port      int    `expr:"port"`
	User      string `expr:"user"`
	Transport string `expr:"transport"`
	// Provider is the provider type (sim, docker, awx, static).
	Provider    string `expr:"provider"`
	Instance    string `expr:"instance"`
	ProviderID  string `expr:"provider_id"`
	Environment string `expr:"environment"`
	// Status is the status's name (pending, ready, failed, tainted,
	// releasing); empty for a host not checked out yet.
	Status string            `expr:"status"`
	Nick   string            `expr:"nick"`
	Labels map[string]string `expr:"labels"`
	Facts  map[string]any    `expr:"facts"`
	// Args is the recipe; `_broker_args` reads the same map.
	Args    map[string]any `expr:"args"`
	Lease   LeaseValues    `expr:"lease"`
	Created time.Time      `expr:"created"`
	Updated time.Time      `expr:"updated"`
	Origin  OriginValues   `expr:"origin"`
	// Index is the host's position in the inventory (Select) or the
	// instance index (desired hosts).
	Index int `expr:"index"`
	// Now is what now() returns.
	Now time.Time `expr:"-"`
}

// LeaseValues is the `lease` object.
type LeaseValues struct {
	// Expires is zero without a lease.
	Expires time.Time `expr:"expires"`
	// Remaining is Expires - now; negative once expired, 0 without a lease.
	Remaining time.Duration `expr:"remaining"`
	Extended  int           `expr:"extended"`
}

// OriginValues is the `origin` object.
type OriginValues struct {
	User    string `expr:"user"`
	Machine string `expr:"machine"`
	CI      string `expr:"ci"`
}

// HostValues builds the environment of a recorded host.
func HostValues(h state.Host, index int, now time.Time) Values {
	return Values{
		ID:          h.ID,
		Address:     h.Address,
		Name:        h.Name,
		Hostname:    h.Hostname,
		IP:          h.IP,
		Port:        h.Port,
		User:        h.User,
		Transport:   h.Transport,
		Provider:    h.Provider,
		Instance:    h.Instance,
		ProviderID:  h.ProviderID,
		Environment: h.Environment,
		Status:      h.Status.String(),
		Nick:        h.Nick,
		Labels:      h.Labels,
		Facts:       h.Facts,
		Args:        h.Recipe,
		Lease: LeaseValues{
			Expires:   h.Lease.Expires,
			Remaining: h.Lease.Remaining(now),
			Extended:  h.Lease.Extended,
		},
		Created: h.Created,
		Updated: h.Updated,
		Origin:  OriginValues{User: h.Origin.User, Machine: h.Origin.Machine, CI: h.Origin.CI},
		Index:   index,
		Now:     now,
	}
}

// env is what programs run against: Values plus the aliases and now().
type env struct {
	Values
	BrokerArgs map[string]any `expr:"_broker_args"`
	// BrokerProvider is the provider under the Python broker's name
	// (AnsibleTower, Container, TestProvider), so that Python filters
	// compare with the names they were written with.
	BrokerProvider string `expr:"_broker_provider"`
	// BrokerProviderInstance is instance, under the Python name.
	BrokerProviderInstance string `expr:"_broker_provider_instance"`
	// Type is the Python inventory's "type" key: facts.type, else "host".
	Type    string           `expr:"type"`
	Host    *Values          `expr:"host"`
	NowFunc func() time.Time `expr:"now"`
}

func newEnv(v *Values) *env {
	e := &env{}
	e.set(v)
	e.Host = &e.Values
	return e
}

// set points e at v (reusing e between hosts).
func (e *env) set(v *Values) {
	e.Values = *v
	e.BrokerArgs = v.Args
	e.BrokerProvider = PythonProvider(v.Provider)
	e.BrokerProviderInstance = v.Instance
	e.Type = "host"
	if t, ok := v.Facts["type"].(string); ok && t != "" {
		e.Type = t
	}
	now := v.Now
	e.NowFunc = func() time.Time { return now }
}

// pythonProviders maps broker's provider types to the Python broker's
// class names, as Python inventories, filters and --output-file write them.
var pythonProviders = map[string]string{"awx": "AnsibleTower", "docker": "Container", "sim": "TestProvider", "openstack": "OpenStack"}

// PythonProvider is the Python broker's name of provider type t
// (awx → AnsibleTower, docker → Container, sim → TestProvider); t itself
// for types Python does not have.
func PythonProvider(t string) string {
	if p, ok := pythonProviders[t]; ok {
		return p
	}
	return t
}

// NativeProvider is broker's type for a Python provider name (any case);
// name itself when it is not one.
func NativeProvider(name string) string {
	for t, p := range pythonProviders {
		if strings.EqualFold(p, name) {
			return t
		}
	}
	return name
}
