package executor

import "github.com/labbroker/broker/state"

// batch wraps the store so that the writes of concurrent changes share
// transactions (group commit), and so that a change can write several
// things at once (a record and the deletion of its intent).
func batch(s state.Store) *state.Batcher {
	if b, ok := s.(*state.Batcher); ok {
		return b
	}
	return state.NewBatcher(s)
}
