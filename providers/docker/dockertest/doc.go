// Package dockertest helps tests that need the real Docker engine: it finds
// the engine (skipping the test with the reason when none answers, failing
// it when CI=true), makes sure broker's test images exist (building them
// with test/images/build.sh), and gives each test a unique label with a
// cleanup that removes every container, network and volume carrying it.
package dockertest
