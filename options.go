package broker

import (
	"context"
	"maps"
	"time"
)

// An Option describes a checkout: Nick, Provider, Args, Lease, Labels,
// InEnvironment, Setup, Teardown. Later options win over earlier ones;
// Args and Labels merge, Setup and Teardown add up.
type Option interface {
	applyCheckout(*checkout)
}

// checkout is what the options of one Checkout or CheckoutN say.
type checkout struct {
	nick, provider, env string
	args                map[string]any
	labels              map[string]string
	lease               time.Duration
	setup, teardown     []HostFunc
}

// HostFunc is a Setup or Teardown step.
type HostFunc func(ctx context.Context, h *Host) error

type optionFunc func(*checkout)

func (f optionFunc) applyCheckout(c *checkout) { f(c) }

// Nick checks out from a nick (a named recipe) of the settings: its
// provider and arguments, which Provider and Args override.
func Nick(name string) Option {
	return optionFunc(func(c *checkout) { c.nick = name })
}

// Provider names the provider: "TYPE" or "TYPE.INSTANCE" ("docker",
// "docker.local", "sim", "awx.testing"). Without it the provider is the
// nick's, or one implied by the arguments (image: docker; workflow: awx),
// or the only one the settings declare, as on the command line.
func Provider(name string) Option {
	return optionFunc(func(c *checkout) { c.provider = name })
}

// Args are provider arguments, merged over the nick's:
//
//	broker.Args{"image": "broker-sshd:bookworm", "ports": []string{"22"}}
//
// Values are anything that encodes to JSON; they are recorded as JSON
// values (numbers as float64, slices as []any), as the command line's are.
type Args map[string]any

func (a Args) applyCheckout(c *checkout) {
	if c.args == nil {
		c.args = map[string]any{}
	}
	maps.Copy(c.args, a)
}

// Labels are recorded with the hosts and put on what the provider makes
// (container labels, for instance); filters read them as labels.KEY.
type Labels map[string]string

func (l Labels) applyCheckout(c *checkout) {
	if c.labels == nil {
		c.labels = map[string]string{}
	}
	maps.Copy(c.labels, l)
}

// Lease is how long the hosts may be kept: `broker reap` checks in hosts
// whose lease has ended, which is what cleans up after a program that
// died without checking its hosts in. Zero: no lease.
func Lease(d time.Duration) Option {
	return optionFunc(func(c *checkout) { c.lease = d })
}

// InEnvironment records the hosts in the named environment instead of the
// Client's. As an ApplyOption it names the environment a manifest is
// applied in, overriding the manifest's environment attribute.
//
// (It is not called Environment because that is the type Apply returns.)
func InEnvironment(name string) EnvironmentOption { return EnvironmentOption(name) }

// EnvironmentOption is InEnvironment's value: both an Option and an
// ApplyOption.
type EnvironmentOption string

func (e EnvironmentOption) applyCheckout(c *checkout) { c.env = string(e) }
func (e EnvironmentOption) applyApply(c *applyConfig) { c.env = string(e) }

// Setup adds a step run on each host after it is checked out and before
// Checkout returns it: the Go form of a Python broker Host class's setup
// method. Steps run in the order given. If one fails, the hosts of the
// checkout are checked in (without teardown) and Checkout returns the
// error.
func Setup(f func(ctx context.Context, h *Host) error) Option {
	return optionFunc(func(c *checkout) { c.setup = append(c.setup, f) })
}

// Teardown adds a step run on the host by Checkin, before the host is
// returned to its provider: the Go form of a Host class's teardown method.
// Steps run in reverse order of declaration, like deferred calls. A
// failing step never prevents the check-in: its error is reported by
// Checkin after the host is checked in.
func Teardown(f func(ctx context.Context, h *Host) error) Option {
	return optionFunc(func(c *checkout) { c.teardown = append(c.teardown, f) })
}

// An ApplyOption steers Apply: Vars, VarFiles, InEnvironment.
type ApplyOption interface {
	applyApply(*applyConfig)
}

type applyConfig struct {
	env      string
	vars     map[string]string
	varFiles []string
}

// Vars set the manifest's variables, as --var name=value does: a value is
// taken literally for a string variable and parsed as an HCL expression
// otherwise.
type Vars map[string]string

func (v Vars) applyApply(c *applyConfig) {
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	maps.Copy(c.vars, v)
}

// VarFiles reads variables from .hcl or .json files, as --var-file does.
func VarFiles(paths ...string) ApplyOption { return varFiles(paths) }

type varFiles []string

func (v varFiles) applyApply(c *applyConfig) { c.varFiles = append(c.varFiles, v...) }
