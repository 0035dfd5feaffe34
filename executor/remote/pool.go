package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"
)

// Pool keeps one SSH connection per host for a run, so that setup, hooks
// and exec share it instead of each paying a handshake. Concurrent Gets
// for one key share one dial. A connection found dead is dialled again
// once per Get or per operation; operations themselves are never retried
// (a command may have run).
//
// Sessions from Get belong to the pool: their Close does nothing, and
// Pool.Close closes the connections.
type Pool struct {
	ctx    context.Context // dials outlive the Get that started them
	cancel context.CancelFunc
	group  singleflight.Group

	mu     sync.Mutex
	conns  map[string]*SSHSession
	closed bool
}

// ErrPoolClosed is returned by Get after Close.
var ErrPoolClosed = errors.New("ssh connection pool is closed")

// NewPool returns an empty pool.
func NewPool() *Pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{ctx: ctx, cancel: cancel, conns: map[string]*SSHSession{}}
}

// Get returns a session to the host that key names (a record id, an
// address: the caller's choice), dialling it with cfg when the pool has
// no live connection for key.
func (p *Pool) Get(ctx context.Context, key string, cfg SSHConfig) (Session, error) {
	if _, err := p.conn(ctx, key, cfg); err != nil {
		return nil, err
	}
	return &pooledSession{p: p, key: key, cfg: cfg}, nil
}

// conn returns the live connection for key, dialling (once, shared by
// concurrent callers) when there is none or it died.
func (p *Pool) conn(ctx context.Context, key string, cfg SSHConfig) (*SSHSession, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if s := p.conns[key]; s != nil && s.alive() {
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()

	ch := p.group.DoChan(key, func() (any, error) {
		p.mu.Lock()
		if s := p.conns[key]; s != nil && s.alive() {
			p.mu.Unlock()
			return s, nil
		}
		p.mu.Unlock()
		s, err := DialSSH(p.ctx, cfg)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			s.Close()
			return nil, ErrPoolClosed
		}
		if old := p.conns[key]; old != nil {
			old.Close()
		}
		p.conns[key] = s
		return s, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*SSHSession), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("connect %s: %w", cfg.Addr, ctx.Err())
	}
}

// Len is the number of connections the pool holds.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close closes every connection and cancels dials in progress; later Gets
// fail with ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[string]*SSHSession{}
	p.mu.Unlock()
	p.cancel()
	var errs []error
	for _, s := range conns {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// pooledSession resolves its connection at each operation, so that a
// connection that died since is replaced.
type pooledSession struct {
	p   *Pool
	key string
	cfg SSHConfig
}

var _ Session = (*pooledSession)(nil)

func (s *pooledSession) Run(ctx context.Context, cmd string, opts RunOptions) (Result, error) {
	c, err := s.p.conn(ctx, s.key, s.cfg)
	if err != nil {
		return Result{Status: -1}, err
	}
	return c.Run(ctx, cmd, opts)
}

func (s *pooledSession) Upload(ctx context.Context, local, remote string) error {
	c, err := s.p.conn(ctx, s.key, s.cfg)
	if err != nil {
		return err
	}
	return c.Upload(ctx, local, remote)
}

func (s *pooledSession) Download(ctx context.Context, remote, local string) error {
	c, err := s.p.conn(ctx, s.key, s.cfg)
	if err != nil {
		return err
	}
	return c.Download(ctx, remote, local)
}

func (s *pooledSession) Shell(ctx context.Context, opts ShellOptions) error {
	c, err := s.p.conn(ctx, s.key, s.cfg)
	if err != nil {
		return err
	}
	return c.Shell(ctx, opts)
}

// Close does nothing: the pool owns the connection.
func (s *pooledSession) Close() error { return nil }
