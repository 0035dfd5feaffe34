// Package boltshare shares one open bbolt file among the goroutines of a
// process, and only while they use it.
//
// broker opens its bbolt files (the state, the sim provider's lab) per
// operation instead of holding them, because bbolt holds an flock on the
// whole file while it is open and other broker processes (an inventory
// during an apply, a second runner's apply of another environment) must get
// in. But flock is per open file description: two goroutines of one process
// that each open the file exclude each other just as two processes do, so
// an apply of 1,000 hosts would queue on its own lock. Acquire therefore
// reference-counts one handle per path: the first user opens the file,
// concurrent users share the handle (bbolt is safe for concurrent
// transactions, and DB.Batch coalesces their writes into few fsyncs), and
// the last user to leave closes it, handing the file to other processes.
//
// opts.Timeout bounds the wait for another process only while that process
// makes no progress: when the file was written meanwhile (many broker
// processes taking turns on it, as a hundred parallel checkouts do), the
// wait goes on, up to maxWaits timeouts in all. A holder that hangs still
// times out after one.
//
// Package boltshare knows nothing of what is stored in the files.
package boltshare

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

type entry struct {
	refs  int
	ready chan struct{} // closed once the open finished
	db    *bbolt.DB
	err   error
}

var (
	mu    sync.Mutex
	files = map[string]*entry{}
)

// Acquire returns the process's open handle of path, opening it (read-write,
// with opts) if no goroutine has it open. Call release when done; the file is
// closed when the last holder releases it. opts of later callers are ignored
// while the file is open.
func Acquire(path string, opts *bbolt.Options) (db *bbolt.DB, release func() error, err error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	mu.Lock()
	e := files[path]
	if e == nil {
		e = &entry{refs: 1, ready: make(chan struct{})}
		files[path] = e
		mu.Unlock()
		e.db, e.err = open(path, opts)
		if e.err != nil {
			mu.Lock()
			if files[path] == e {
				delete(files, path)
			}
			mu.Unlock()
		}
		close(e.ready)
	} else {
		e.refs++
		mu.Unlock()
		<-e.ready
	}
	if e.err != nil {
		return nil, nil, e.err
	}
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() {
			mu.Lock()
			e.refs--
			last := e.refs == 0
			if last && files[path] == e {
				delete(files, path)
			}
			mu.Unlock()
			if last {
				err = e.db.Close()
			}
		})
		return err
	}
	return e.db, release, nil
}

// maxWaits bounds the wait of an open while others keep writing the file,
// in timeouts.
const maxWaits = 12

// open opens path, waiting for other processes as long as they make
// progress (see the package documentation).
func open(path string, opts *bbolt.Options) (*bbolt.DB, error) {
	for i := 1; ; i++ {
		before, _ := os.Stat(path)
		db, err := bbolt.Open(path, 0o600, opts)
		if !errors.Is(err, berrors.ErrTimeout) || opts == nil || opts.Timeout <= 0 || i >= maxWaits {
			return db, err
		}
		after, _ := os.Stat(path)
		if !written(before, after) {
			return db, err
		}
	}
}

// written reports whether the file changed between two looks at it.
func written(before, after os.FileInfo) bool {
	if before == nil || after == nil {
		return false
	}
	return !before.ModTime().Equal(after.ModTime()) || before.Size() != after.Size()
}
