package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"testing"

	"github.com/moby/moby/client"
	"github.com/zclconf/go-cty/cty"

	"github.com/labbroker/broker/providers"
	"github.com/labbroker/broker/providers/docker/dockertest"
)

const testUser = "tester"

// settingsVal builds a settings object as hcldec would: every attribute,
// null unless given.
func settingsVal(set map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	for _, name := range settingsSchema.Names() {
		attrs[name] = cty.NullVal(cty.DynamicPseudoType)
	}
	maps.Copy(attrs, set)
	return cty.ObjectVal(attrs)
}

// newTestProvider returns a provider on the run's engine whose container
// names start with the run's unique prefix.
func newTestProvider(t testing.TB, run *dockertest.Run, set map[string]cty.Value) *Provider {
	t.Helper()
	all := map[string]cty.Value{"name_prefix": cty.StringVal(run.Prefix)}
	for k, v := range run.Engine.Settings() {
		all[k] = cty.StringVal(v)
	}
	maps.Copy(all, set)
	p, err := New(context.Background(), providers.Config{
		Type: "docker", Instance: "test", User: testUser, Settings: settingsVal(all),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// request is a checkout request labelled as broker and the run label it.
func request(run *dockertest.Run, name string, a map[string]any, extra map[string]string) providers.CheckoutRequest {
	labels := map[string]string{
		providers.LabelID:          newID(),
		providers.LabelEnvironment: "test-" + run.Value,
		providers.LabelIntent:      newID(),
		providers.LabelUser:        testUser,
	}
	maps.Copy(labels, run.Labels())
	maps.Copy(labels, extra)
	return providers.CheckoutRequest{Environment: "test-" + run.Value, Name: name, Args: a, Labels: labels}
}

func assertNothingLeft(t *testing.T, run *dockertest.Run) {
	t.Helper()
	c, n, v, err := run.Left(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c+n+v != 0 {
		t.Errorf("left behind: %d containers, %d networks, %d volumes", c, n, v)
	}
}

func containerCount(t *testing.T, run *dockertest.Run, f client.Filters) int {
	t.Helper()
	list, err := run.API.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}
