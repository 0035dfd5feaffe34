package ostest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/labbroker/broker/providers/openstack/ostest"
)

// Stock gophercloud, as any program would use it: version discovery from
// a versionless auth URL, the catalog, a server's life and its fault.
func TestStockGophercloud(t *testing.T) {
	ctx := context.Background()
	e := ostest.New(ostest.Options{BuildPolls: 1})
	defer e.Close()
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: e.URL() + "/identity/", // versionless: discovered
		Username:         ostest.DefaultUsername,
		Password:         ostest.DefaultPassword,
		DomainName:       "Default",
		Scope:            &gophercloud.AuthScope{ProjectName: ostest.DefaultProject, DomainName: "Default"},
	}
	pc, err := openstack.AuthenticatedClient(ctx, ao)
	if err != nil {
		t.Fatal(err)
	}
	compute, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: ostest.DefaultRegion})
	if err != nil {
		t.Fatal(err)
	}
	e.FailNextBuilds("No valid host was found.")
	s, err := servers.Create(ctx, compute, servers.CreateOpts{Name: "a", ImageRef: "8a1c2b3d-0000-4000-8000-000000000001", FlavorRef: "1",
		Metadata: map[string]string{"k": "v"}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	got, err := servers.Get(ctx, compute, s.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "ERROR" || got.Fault.Message != "No valid host was found." || got.Metadata["k"] != "v" {
		t.Errorf("server = %+v", got)
	}
	if err := servers.Delete(ctx, compute, s.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = servers.Get(ctx, compute, s.ID).Extract() // still deleting
	if err != nil {
		t.Fatal(err)
	}
	_, err = servers.Get(ctx, compute, s.ID).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("after the delete: %v, want 404", err)
	}

	ao.Password = "wrong"
	if _, err := openstack.AuthenticatedClient(ctx, ao); !gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
		t.Errorf("wrong password: %v, want 401", err)
	}
}
