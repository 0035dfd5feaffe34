package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/labbroker/broker/state"
)

func (s *Store) lockPrefix(env string) string { return s.pfx + "/locks/" + esc(env) }
func (s *Store) holderKey(env string, lease clientv3.LeaseID) string {
	return fmt.Sprintf("%s/holders/%s/%x", s.pfx, esc(env), int64(lease))
}

// session starts a lease of LockTTL kept alive until the returned session
// is closed or the process dies.
func (s *Store) session(ctx context.Context) (*concurrency.Session, error) {
	var sess *concurrency.Session
	err := s.retry(ctx, func(rctx context.Context) error {
		// The session's keepalive must outlive this request's context, so
		// only the grant is bounded by it.
		ttl := int((s.cfg.LockTTL + time.Second - 1) / time.Second)
		lease, err := s.cli.Grant(rctx, int64(ttl))
		if err != nil {
			return err
		}
		sess, err = concurrency.NewSession(s.cli, concurrency.WithTTL(ttl), concurrency.WithLease(lease.ID),
			concurrency.WithContext(context.WithoutCancel(ctx)))
		return err
	})
	return sess, err
}

// Lock implements state.Store with a concurrency.Mutex on
// P/locks/<env> in a session of its own; see the package documentation.
func (s *Store) Lock(ctx context.Context, env string, info state.LockInfo, opts state.LockOptions) (state.Unlocker, error) {
	if env == "" {
		return nil, errors.New("lock: empty environment")
	}
	op := fmt.Sprintf("lock environment %q", env)
	sess, err := s.session(ctx)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	fail := func(err error) (state.Unlocker, error) {
		closeSession(sess, s.cfg.RequestTimeout)
		return nil, err
	}
	// The holder note goes in first, under this session's lease, so that
	// a waiter that finds this session owning the lock can name it.
	raw, _ := json.Marshal(info)
	if err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Put(ctx, s.holderKey(env, sess.Lease()), string(raw), clientv3.WithLease(sess.Lease()))
		return err
	}); err != nil {
		return fail(s.wrap(ctx, op, err))
	}
	m := concurrency.NewMutex(sess, s.lockPrefix(env))
	err = s.req(ctx, func(ctx context.Context) error { return m.TryLock(ctx) })
	if err == nil {
		return &unlocker{s: s, m: m, sess: sess}, nil
	}
	if !errors.Is(err, concurrency.ErrLocked) {
		return fail(s.wrap(ctx, op, err))
	}
	holder, _ := s.holder(ctx, env)
	if opts.Timeout <= 0 {
		return fail(&state.LockedError{Environment: env, Holder: holder})
	}
	if opts.OnWait != nil {
		opts.OnWait(holder)
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// Lock watches for the deletion of every older waiter's key; a holder
	// that dies loses its key when its lease runs out.
	err = m.Lock(wctx)
	if err == nil {
		return &unlocker{s: s, m: m, sess: sess}, nil
	}
	if ctx.Err() != nil {
		return fail(fmt.Errorf("%s: %w", op, ctx.Err()))
	}
	if wctx.Err() != nil {
		holder, _ := s.holder(ctx, env)
		return fail(&state.LockedError{Environment: env, Holder: holder})
	}
	return fail(s.wrap(ctx, op, err))
}

// holder reads the note of the session that owns env's lock: the oldest
// key under the lock's prefix.
func (s *Store) holder(ctx context.Context, env string) (state.LockInfo, bool) {
	info, ok, _ := s.ownerInfo(ctx, s.lockPrefix(env)+"/", func(lease clientv3.LeaseID) string { return s.holderKey(env, lease) })
	return info, ok
}

// ownerInfo finds the oldest key under prefix and decodes the LockInfo
// stored at note(its lease), or, when note is nil, in the key's value.
func (s *Store) ownerInfo(ctx context.Context, prefix string, note func(clientv3.LeaseID) string) (state.LockInfo, bool, error) {
	var info state.LockInfo
	var found bool
	err := s.retry(ctx, func(ctx context.Context) error {
		found = false
		resp, err := s.cli.Get(ctx, prefix, clientv3.WithFirstCreate()...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		found = true
		raw := resp.Kvs[0].Value
		if note != nil {
			r, err := s.cli.Get(ctx, note(clientv3.LeaseID(resp.Kvs[0].Lease)))
			if err != nil {
				return err
			}
			raw = nil
			if len(r.Kvs) > 0 {
				raw = r.Kvs[0].Value
			}
		}
		_ = json.Unmarshal(raw, &info)
		return nil
	})
	return info, found, err
}

var _ state.ForceUnlocker = (*Store)(nil)

// LockHolder reports who holds env's lock, if anyone (for `broker state
// list` and `unlock`).
func (s *Store) LockHolder(ctx context.Context, env string) (state.LockInfo, bool, error) {
	info, ok, err := s.ownerInfo(ctx, s.lockPrefix(env)+"/", func(lease clientv3.LeaseID) string { return s.holderKey(env, lease) })
	return info, ok, s.wrap(ctx, fmt.Sprintf("read lock of %q", env), err)
}

// ForceUnlock breaks env's lock: it revokes the lease of every session
// holding or waiting for it, which ends those sessions (a live holder
// finds its lock gone). It returns the holder it removed, if any.
func (s *Store) ForceUnlock(ctx context.Context, env string) (state.LockInfo, bool, error) {
	info, held, err := s.LockHolder(ctx, env)
	if err != nil || !held {
		return info, held, err
	}
	pfx := s.lockPrefix(env) + "/"
	err = s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, pfx, clientv3.WithPrefix())
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			if kv.Lease != 0 {
				if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(kv.Lease)); err != nil && !strings.Contains(err.Error(), "requested lease not found") {
					return err
				}
			}
		}
		_, err = s.cli.Delete(ctx, pfx, clientv3.WithPrefix())
		return err
	})
	return info, true, s.wrap(ctx, fmt.Sprintf("unlock %q", env), err)
}

type unlocker struct {
	s    *Store
	m    *concurrency.Mutex
	sess *concurrency.Session
	once sync.Once
	err  error
}

// Unlock releases the lock and ends its session (revoking the lease, which
// also removes the holder note). A session that already expired has
// nothing left to release.
func (u *unlocker) Unlock() error {
	u.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), u.s.cfg.RequestTimeout)
		defer cancel()
		err := u.m.Unlock(ctx)
		if errors.Is(err, concurrency.ErrLockReleased) {
			err = nil
		}
		if cerr := u.sess.Close(); err == nil && cerr != nil && !strings.Contains(cerr.Error(), "requested lease not found") {
			err = cerr
		}
		if err != nil {
			u.err = u.s.wrap(ctx, "unlock", err)
		}
	})
	return u.err
}

// Lost is closed when the lock's session ends: the lease expired (the
// cluster was out of reach for longer than LockTTL) or was revoked by a
// force-unlock. A holder that sees it no longer holds the lock.
func (u *unlocker) Lost() <-chan struct{} { return u.sess.Done() }

func closeSession(sess *concurrency.Session, timeout time.Duration) {
	// Close revokes the lease with the session's own context bounded by
	// the client's; bound it here too.
	done := make(chan struct{})
	go func() { _ = sess.Close(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		sess.Orphan()
	}
}
