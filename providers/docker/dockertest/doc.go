// Package dockertest helps tests that need a real container engine: the
// machine's Docker engine, or a Podman service that the test binary starts
// for itself with test/podman/serve.sh (its socket and image store in a
// temporary folder, ended with the binary). It finds the engine (skipping
// the test with the reason when none answers, failing it when CI=true),
// makes sure broker's test images exist (building them with
// test/images/build.sh, copying them into Podman with docker save | podman
// load), runs a test on each engine (Each, RunOn), and gives each test a
// unique label with a cleanup that removes every container, network and
// volume carrying it.
package dockertest
