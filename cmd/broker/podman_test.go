package main

import (
	"testing"

	"github.com/labbroker/broker/providers/docker/dockertest"
)

// TestPodman runs broker's container tests on Podman (DOCKER_HOST set to
// its socket): apply, exec over SSH and the engine's exec, a killed apply
// and the adoption of what it left, a container removed behind broker's back.
func TestPodman(t *testing.T) {
	dockertest.RunOn(t, "podman", map[string]func(*testing.T){
		"Lifecycle":                TestDockerLifecycle,
		"KilledApply":              TestDockerKilledApply,
		"RemovedBehindBrokersBack": TestDockerRemovedBehindBrokersBack,
	})
}
