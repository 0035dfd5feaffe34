package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/labbroker/broker/state"
)

func (s *Store) electionPrefix(name string) string { return s.pfx + "/elections/" + esc(name) }

// Campaign implements state.Elector with concurrency.Election in a session
// of its own: it returns once this process leads, and the leadership ends
// when the session does (Resign, Close, or a lease that ran out because
// this process died or lost the cluster for longer than LockTTL).
func (s *Store) Campaign(ctx context.Context, name string, info state.LockInfo) (state.Leadership, error) {
	op := fmt.Sprintf("campaign for %q", name)
	sess, err := s.session(ctx)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	raw, _ := json.Marshal(info)
	e := concurrency.NewElection(sess, s.electionPrefix(name))
	if err := e.Campaign(ctx, string(raw)); err != nil {
		closeSession(sess, s.cfg.RequestTimeout)
		return nil, s.wrap(ctx, op, err)
	}
	return &leadership{s: s, e: e, sess: sess}, nil
}

// Leader implements state.Elector.
func (s *Store) Leader(ctx context.Context, name string) (state.LockInfo, bool, error) {
	info, ok, err := s.ownerInfo(ctx, s.electionPrefix(name)+"/", nil)
	return info, ok, s.wrap(ctx, fmt.Sprintf("read leader of %q", name), err)
}

type leadership struct {
	s    *Store
	e    *concurrency.Election
	sess *concurrency.Session
	once sync.Once
	err  error
}

func (l *leadership) Done() <-chan struct{} { return l.sess.Done() }

func (l *leadership) Resign(ctx context.Context) error {
	l.once.Do(func() {
		rctx, cancel := context.WithTimeout(ctx, l.s.cfg.RequestTimeout)
		defer cancel()
		err := l.e.Resign(rctx)
		closeSession(l.sess, l.s.cfg.RequestTimeout)
		if err != nil {
			l.err = l.s.wrap(ctx, "resign", err)
		}
	})
	return l.err
}
