package dockerexec_test

import (
	"testing"

	"github.com/labbroker/broker/providers/docker/dockertest"
)

// TestPodman runs the session's tests on Podman's Docker-compatible API:
// exec, its exit status and streams, and the archive copy both ways.
func TestPodman(t *testing.T) {
	dockertest.RunOn(t, "podman", map[string]func(*testing.T){
		"Run":                     TestRun,
		"RunStreams":              TestRunStreams,
		"RunTimeoutKills":         TestRunTimeoutKills,
		"UploadDownloadTree":      TestUploadDownloadTree,
		"UploadFileIntoDirectory": TestUploadFileIntoDirectory,
		"Shell":                   TestShell,
		"ContainerGone":           TestContainerGone,
	})
}
