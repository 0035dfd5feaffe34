package app

import (
	"testing"

	"github.com/labbroker/broker/providers/docker/dockertest"
)

// TestPodman runs the container lab's tests on Podman: orphans found by
// their labels and reaped, sync, import.
func TestPodman(t *testing.T) {
	dockertest.RunOn(t, "podman", map[string]func(*testing.T){
		"Reap":      TestReapDocker,
		"Import":    TestImportDocker,
		"TwoStates": TestReapDockerTwoStates,
	})
}
