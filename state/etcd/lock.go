package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
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

// sharedValue marks a shared holder's key under P/locks/<env>/. An
// exclusive holder's key holds "", as concurrency.Mutex writes it, so that
// an older build (which locks with a Mutex) and this one exclude each
// other: the older build sees every key as a holder ahead of it.
const sharedValue = "shared"

// Lock implements state.Store with a reader-writer lock on P/locks/<env>
// in a session of its own; see the package documentation. The request
// puts its key (value sharedValue, or "" for exclusive) and then waits,
// as concurrency.Mutex does, for the deletion of the keys created before
// it that it must wait for: every one for the exclusive form, the
// exclusive ones for the shared form. Requests are thus served in the
// order of their keys' creation, and a queued exclusive request holds
// back the shared requests that come after it.
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
	// a waiter that finds this session holding the lock can name it.
	raw, _ := json.Marshal(info)
	if err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Put(ctx, s.holderKey(env, sess.Lease()), string(raw), clientv3.WithLease(sess.Lease()))
		return err
	}); err != nil {
		return fail(s.wrap(ctx, op, err))
	}
	pfx := s.lockPrefix(env) + "/"
	key := fmt.Sprintf("%s%x", pfx, int64(sess.Lease()))
	val := ""
	if opts.Shared {
		val = sharedValue
	}
	var myRev int64
	if err := s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val, clientv3.WithLease(sess.Lease()))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return err
		}
		myRev = resp.Header.Revision
		if !resp.Succeeded {
			// A retried Txn whose first attempt did land.
			myRev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
		}
		return nil
	}); err != nil {
		return fail(s.wrap(ctx, op, err))
	}
	u := &unlocker{s: s, key: key, sess: sess}

	// ahead lists the keys created before this one that this request
	// waits for, oldest first, and the revision of the read.
	ahead := func(ctx context.Context) ([]*mvccpb.KeyValue, int64, error) {
		var out []*mvccpb.KeyValue
		var rev int64
		err := s.retry(ctx, func(ctx context.Context) error {
			resp, err := s.cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithMaxCreateRev(myRev-1),
				clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
			if err != nil {
				return err
			}
			out, rev = nil, resp.Header.Revision
			for _, kv := range resp.Kvs {
				if !opts.Shared || string(kv.Value) != sharedValue {
					out = append(out, kv)
				}
			}
			return nil
		})
		return out, rev, err
	}
	kvs, rev, err := ahead(ctx)
	if err != nil {
		return fail(s.wrap(ctx, op, err))
	}
	if len(kvs) == 0 {
		return u, nil
	}
	if opts.Timeout <= 0 {
		return fail(&state.LockedError{Environment: env, Holder: s.holders(ctx, env, pfx)})
	}
	if opts.OnWait != nil {
		opts.OnWait(s.holders(ctx, env, pfx))
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	go func() {
		// A session that ends while waiting took this request's key
		// with it: stop waiting.
		select {
		case <-sess.Done():
			cancel()
		case <-wctx.Done():
		}
	}()
	for len(kvs) > 0 {
		last := kvs[len(kvs)-1]
		err := s.waitDelete(wctx, string(last.Key), rev+1)
		if err == nil {
			kvs, rev, err = ahead(wctx)
		}
		if err == nil {
			continue
		}
		select {
		case <-sess.Done():
			return fail(s.wrap(ctx, op, errors.New("the lock's session ended while waiting")))
		default:
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("%s: %w", op, ctx.Err()))
		}
		if wctx.Err() != nil {
			return fail(&state.LockedError{Environment: env, Holder: s.holders(ctx, env, pfx)})
		}
		return fail(s.wrap(ctx, op, err))
	}
	return u, nil
}

// waitDelete returns once key is deleted at or after revision rev.
func (s *Store) waitDelete(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range s.cli.Watch(wctx, key, clientv3.WithRev(rev), clientv3.WithFilterPut()) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch ended: the cluster has no leader")
}

// holders names who holds env's lock: the owner of the oldest key, and,
// when that is a shared holder, how many other shared holders hold it
// with it (the shared keys before the first exclusive one).
func (s *Store) holders(ctx context.Context, env, pfx string) state.LockInfo {
	var kvs []*mvccpb.KeyValue
	_ = s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, pfx, clientv3.WithPrefix(),
			clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
		if err == nil {
			kvs = resp.Kvs
		}
		return err
	})
	if len(kvs) == 0 {
		return state.LockInfo{}
	}
	var info state.LockInfo
	_ = s.retry(ctx, func(ctx context.Context) error {
		r, err := s.cli.Get(ctx, s.holderKey(env, clientv3.LeaseID(kvs[0].Lease)))
		if err == nil && len(r.Kvs) > 0 {
			_ = json.Unmarshal(r.Kvs[0].Value, &info)
		}
		return err
	})
	if string(kvs[0].Value) == sharedValue {
		for _, kv := range kvs[1:] {
			if string(kv.Value) != sharedValue {
				break
			}
			info.Others++
		}
	}
	return info
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
	key  string
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
		_, err := u.s.cli.Delete(ctx, u.key)
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
