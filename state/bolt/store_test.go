package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/labbroker/broker/state"
	"github.com/labbroker/broker/state/bolt"
	"github.com/labbroker/broker/state/statetest"
)

func openTemp(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return openTemp(t) })
}

func TestSuiteBatched(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return state.NewBatcher(openTemp(t)) })
}

func openTempB(b *testing.B) *bolt.Store { return openTemp(b) }
