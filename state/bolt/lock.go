package bolt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/labbroker/broker/state"
)

// Lock backoff: the first retry comes quickly (most holders are short
// writes), later ones settle at a pace that costs nothing while a
// 20-minute apply holds the environment.
const (
	lockBackoffMin = 2 * time.Millisecond
	lockBackoffMax = 250 * time.Millisecond
	// noWaitTries: a request with no time to wait tries this many more
	// times, lockBackoffMin apart, before it reports the lock held.
	noWaitTries = 3
)

// Lock implements state.Store with flock(2) on <LockDir>/env-<env>.lock:
// LOCK_EX for the exclusive form, LOCK_SH for the shared one.
//
// The lock is held by an open file description, so it dies with the
// process (SIGKILL included) and two Lock calls in one process exclude
// each other as two processes do. Lock files are never removed: unlinking
// a file another process is waiting on would let two processes hold "the"
// lock on different inodes.
//
// A gate file (<LockDir>/gate-<env>.lock) keeps the turns fair: an
// exclusive request holds the gate (LOCK_EX) from the moment it asks until
// it has the lock, and a shared request passes the gate (LOCK_SH, released
// once it holds the lock), so shared requests that come after an exclusive
// waiter wait behind it instead of starving it.
//
// Holders leave a note for waiters to name them: an exclusive holder in
// the lock file (and in the gate while it waits), a shared holder in a
// file of its own under <LockDir>/readers-<env>/, which it keeps flocked so
// that a note of a holder that died reads as stale.
func (s *Store) Lock(ctx context.Context, env string, info state.LockInfo, opts state.LockOptions) (state.Unlocker, error) {
	if env == "" {
		return nil, errors.New("lock: empty environment")
	}
	if err := os.MkdirAll(s.opts.LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	name := LockFileName(env)
	path := filepath.Join(s.opts.LockDir, name)
	gatePath := filepath.Join(s.opts.LockDir, "gate-"+strings.TrimPrefix(name, "env-"))
	readers := filepath.Join(s.opts.LockDir, "readers-"+strings.TrimSuffix(strings.TrimPrefix(name, "env-"), ".lock"))

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	gate, err := os.OpenFile(gatePath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	defer gate.Close()
	w := &flockWait{ctx: ctx, env: env, opts: opts}
	if opts.Timeout > 0 {
		w.deadline = time.Now().Add(opts.Timeout)
	}
	// Who holds what a request waits for: an exclusive holder's note in
	// the lock file, else (for a request at the gate) an exclusive
	// waiter's in the gate, else the shared holders'.
	holder := func(atGate bool) func() state.LockInfo {
		return func() state.LockInfo {
			if h := readLockInfo(path); h.PID != 0 {
				return h
			}
			if atGate {
				if h := readLockInfo(gatePath); h.PID != 0 {
					return h
				}
			}
			return readerNotes(readers)
		}
	}

	if opts.Shared {
		if err := w.flock(gate, unix.LOCK_SH, holder(true)); err != nil {
			f.Close()
			return nil, err
		}
		clearStale(gate)
		err := w.flock(f, unix.LOCK_SH, holder(false))
		_ = unix.Flock(int(gate.Fd()), unix.LOCK_UN)
		if err != nil {
			f.Close()
			return nil, err
		}
		clearStale(f)
		note, err := writeReaderNote(readers, info)
		if err != nil {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			f.Close()
			return nil, fmt.Errorf("record lock holder: %w", err)
		}
		return &unlocker{f: f, note: note}, nil
	}

	if err := w.flock(gate, unix.LOCK_EX, holder(true)); err != nil {
		f.Close()
		return nil, err
	}
	_ = writeLockNote(gate, info)
	err = w.flock(f, unix.LOCK_EX, holder(false))
	// The gate's note goes while the gate is held, so that no waiter
	// names a waiter that is gone.
	_ = gate.Truncate(0)
	_ = unix.Flock(int(gate.Fd()), unix.LOCK_UN)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := writeLockNote(f, info); err != nil {
		f.Close()
		return nil, fmt.Errorf("record lock holder: %w", err)
	}
	return &unlocker{f: f}, nil
}

// flockWait is one Lock call's waiting: its deadline, and whether it has
// told OnWait yet (once per call, whichever file it waits on).
type flockWait struct {
	ctx      context.Context
	env      string
	opts     state.LockOptions
	deadline time.Time
	waited   bool
}

// flock takes how (LOCK_SH or LOCK_EX) on f, polling with backoff until
// the deadline.
func (w *flockWait) flock(f *os.File, how int, holder func() state.LockInfo) error {
	wait := lockBackoffMin
	tries := 0
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("lock environment %q: %w", w.env, err)
		}
		if w.opts.Timeout <= 0 {
			if tries < noWaitTries {
				// Shared requests pass the gate in microseconds: a
				// request that must not wait still outlasts them.
				tries++
				time.Sleep(lockBackoffMin)
				continue
			}
			return &state.LockedError{Environment: w.env, Holder: holder()}
		}
		if !w.waited && w.opts.OnWait != nil {
			w.opts.OnWait(holder())
		}
		w.waited = true
		left := time.Until(w.deadline)
		if left <= 0 {
			return &state.LockedError{Environment: w.env, Holder: holder()}
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-w.ctx.Done():
			t.Stop()
			return fmt.Errorf("lock environment %q: %w", w.env, w.ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, lockBackoffMax)
	}
}

type unlocker struct {
	once sync.Once
	f    *os.File
	note *os.File // a shared holder's note, removed at Unlock
	err  error
}

func (u *unlocker) Unlock() error {
	u.once.Do(func() {
		if u.note != nil {
			_ = os.Remove(u.note.Name())
			_ = u.note.Close()
		} else {
			// The holder note is cleared while the lock is still held,
			// so a waiter never reads a note of a holder that is gone.
			_ = u.f.Truncate(0)
		}
		err := unix.Flock(int(u.f.Fd()), unix.LOCK_UN)
		if cerr := u.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			u.err = fmt.Errorf("unlock: %w", err)
		}
	})
	return u.err
}

// clearStale empties the exclusive note in a file this process holds
// shared: no exclusive holder can exist meanwhile, so a note there was left
// by one that died.
func clearStale(f *os.File) {
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		_ = f.Truncate(0)
	}
}

// staleNote is how old an unheld reader note must be before a waiter
// removes it: a holder that has created its note but not yet flocked it
// must not lose it.
const staleNote = time.Minute

// writeReaderNote writes a shared holder's note into a file of its own
// in dir, flocked for as long as it is open.
func writeReaderNote(dir string, info state.LockInfo) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf("%d-*.note", info.PID))
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := writeLockNote(f, info); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// readerNotes names the oldest live shared holder in dir, with the count
// of the others; notes of holders that died are skipped (and removed once
// old).
func readerNotes(dir string) state.LockInfo {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return state.LockInfo{}
	}
	var live []state.LockInfo
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
			// Nobody holds it: a holder that died, or one that has
			// not flocked its note yet.
			if fi, err := f.Stat(); err == nil && time.Since(fi.ModTime()) > staleNote {
				_ = os.Remove(p)
			}
			f.Close()
			continue
		}
		f.Close()
		if info := readLockInfo(p); info.PID != 0 {
			live = append(live, info)
		}
	}
	if len(live) == 0 {
		return state.LockInfo{}
	}
	oldest := 0
	for i, l := range live {
		if l.Since.Before(live[oldest].Since) {
			oldest = i
		}
	}
	out := live[oldest]
	out.Others = len(live) - 1
	return out
}

// writeLockNote replaces the note in a held lock or election file with info,
// for waiters to name the holder.
func writeLockNote(f *os.File, info state.LockInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(raw, 0)
	return err
}

// readLockInfo reads the holder's note. A note caught half written, or
// not yet written, reads as the zero LockInfo.
func readLockInfo(path string) state.LockInfo {
	f, err := os.Open(path)
	if err != nil {
		return state.LockInfo{}
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return state.LockInfo{}
	}
	var info state.LockInfo
	_ = json.Unmarshal(raw, &info)
	return info
}

// LockFileName maps an environment name to a safe, unique file name:
// letters, digits, '-' and '_' stay; every other byte becomes %XX, so that
// no name can escape LockDir or collide with another. Long names are
// hashed to stay within file name limits.
func LockFileName(env string) string {
	var b strings.Builder
	for i := 0; i < len(env); i++ {
		c := env[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	name := b.String()
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(env))
		name = name[:100] + "~" + hex.EncodeToString(sum[:16])
	}
	return "env-" + name + ".lock"
}
