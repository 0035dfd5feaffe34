package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/labbroker/broker/state"
)

var _ state.Elector = (*Store)(nil)

// electionFile is the lock file of an election, beside the environment
// locks; "elect-" keeps it apart from every "env-" file.
func (s *Store) electionFile(name string) string {
	return filepath.Join(s.opts.LockDir, "elect-"+strings.TrimPrefix(LockFileName(name), "env-"))
}

// Campaign implements state.Elector among the processes of one machine:
// the leader is the process holding flock(2) on the election's file, which
// the kernel releases when it dies, however it dies. The leader's info is
// written into the file for Leader to read. Done is closed only by Resign:
// a flock is not lost while its holder lives.
func (s *Store) Campaign(ctx context.Context, name string, info state.LockInfo) (state.Leadership, error) {
	if name == "" {
		return nil, errors.New("campaign: empty election name")
	}
	if err := os.MkdirAll(s.opts.LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	f, err := os.OpenFile(s.electionFile(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open election file: %w", err)
	}
	wait := lockBackoffMin
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("campaign for %q: %w", name, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("campaign for %q: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, lockBackoffMax)
	}
	if err := writeLockNote(f, info); err != nil {
		f.Close()
		return nil, fmt.Errorf("record leader: %w", err)
	}
	return &boltLeadership{f: f, done: make(chan struct{})}, nil
}

// Leader implements state.Elector: a process holds the election's flock
// if a shared flock cannot be had.
func (s *Store) Leader(ctx context.Context, name string) (state.LockInfo, bool, error) {
	path := s.electionFile(name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return state.LockInfo{}, false, nil
	}
	if err != nil {
		return state.LockInfo{}, false, fmt.Errorf("open election file: %w", err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return state.LockInfo{}, false, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return state.LockInfo{}, false, fmt.Errorf("read leader of %q: %w", name, err)
	}
	return readLockInfo(path), true, nil
}

type boltLeadership struct {
	once sync.Once
	f    *os.File
	done chan struct{}
	err  error
}

func (l *boltLeadership) Done() <-chan struct{} { return l.done }

func (l *boltLeadership) Resign(context.Context) error {
	l.once.Do(func() {
		// The note is cleared while the flock is held, so that Leader
		// never names a leader that is gone.
		_ = l.f.Truncate(0)
		err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			l.err = fmt.Errorf("resign: %w", err)
		}
		close(l.done)
	})
	return l.err
}
