package state

import "context"

// Elector is implemented by backends that can elect one leader among
// processes (bbolt: among the processes of one machine; etcd: among every
// runner sharing the cluster). `broker reap --watch` on several machines
// uses it so that one reaps and another takes over when it dies.
type Elector interface {
	// Campaign blocks until this process leads the election called name,
	// or ctx ends. info says who leads, for the others' messages.
	Campaign(ctx context.Context, name string, info LockInfo) (Leadership, error)
	// Leader reports who leads name now, if anyone.
	Leader(ctx context.Context, name string) (LockInfo, bool, error)
}

// Leadership is a won election.
type Leadership interface {
	// Done is closed when leadership is lost (session expired, connection
	// lost); the leader must stop acting as one.
	Done() <-chan struct{}
	// Resign gives leadership up.
	Resign(ctx context.Context) error
}
