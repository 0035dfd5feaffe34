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
)

// Lock implements state.Store with flock(2) on <LockDir>/env-<env>.lock.
//
// The lock is held by an open file description, so it dies with the
// process (SIGKILL included) and two Lock calls in one process exclude
// each other as two processes do. The holder's LockInfo is written into
// the file after the lock is taken, so that a waiter can name it. Lock
// files are never removed: unlinking a file another process is waiting on
// would let two processes hold "the" lock on different inodes.
func (s *Store) Lock(ctx context.Context, env string, info state.LockInfo, opts state.LockOptions) (state.Unlocker, error) {
	if env == "" {
		return nil, errors.New("lock: empty environment")
	}
	if err := os.MkdirAll(s.opts.LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	path := filepath.Join(s.opts.LockDir, LockFileName(env))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = time.Now().Add(opts.Timeout)
	}
	wait := lockBackoffMin
	waited := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock environment %q: %w", env, err)
		}
		holder := readLockInfo(path)
		if !waited && opts.OnWait != nil && opts.Timeout > 0 {
			opts.OnWait(holder)
		}
		waited = true
		left := time.Until(deadline)
		if opts.Timeout <= 0 || left <= 0 {
			f.Close()
			return nil, &state.LockedError{Environment: env, Holder: holder}
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock environment %q: %w", env, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, lockBackoffMax)
	}

	if err := writeLockNote(f, info); err != nil {
		f.Close()
		return nil, fmt.Errorf("record lock holder: %w", err)
	}
	return &unlocker{f: f}, nil
}

type unlocker struct {
	once sync.Once
	f    *os.File
	err  error
}

func (u *unlocker) Unlock() error {
	u.once.Do(func() {
		// The holder note is cleared while the lock is still held, so
		// a waiter never reads a note of a holder that is gone.
		_ = u.f.Truncate(0)
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
