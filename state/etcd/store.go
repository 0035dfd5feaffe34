package etcd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/labbroker/broker/state"
)

// Defaults of Config.
const (
	DefaultPrefix         = "/broker"
	DefaultLockTTL        = 30 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxTxnOps      = 128
)

// Config says how to reach the cluster and where broker's keys live.
type Config struct {
	// Endpoints are client URLs (https://etcd1.lab:2379); give every
	// member, so that the client fails over when one is lost.
	Endpoints []string
	// Prefix is the key prefix of this lab's state; default "/broker".
	Prefix string
	// Username and Password authenticate to an etcd with auth enabled.
	Username, Password string
	// TLS is the client's TLS configuration. When nil, CAFile, CertFile and
	// KeyFile (PEM files) build one; an https endpoint without either uses
	// the system's roots.
	TLS                       *tls.Config
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds connecting (and Open's first request); default 5s.
	DialTimeout time.Duration
	// RequestTimeout bounds each request, retries included; default 10s.
	// It is what a lost quorum costs before an operation fails.
	RequestTimeout time.Duration
	// LockTTL is the lease of a lock's or an election's session: how long
	// a holder that died keeps the lock; default 30s, at least 1s.
	LockTTL time.Duration
	// MaxTxnOps is the cluster's --max-txn-ops; default 128.
	MaxTxnOps int
}

// Store is the etcd backend of state.Store, state.Writer and
// state.Elector. It holds one client; Close closes it.
type Store struct {
	cli *clientv3.Client
	cfg Config
	pfx string
}

var (
	_ state.Store   = (*Store)(nil)
	_ state.Writer  = (*Store)(nil)
	_ state.Elector = (*Store)(nil)
)

// Open connects to the cluster and checks the schema version stored under
// the prefix, writing it into an empty prefix. Connection failures are
// *Error naming the endpoints.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, &Error{Op: "open", Err: errors.New("no endpoints configured")}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	if cfg.LockTTL < time.Second {
		cfg.LockTTL = time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = DefaultMaxTxnOps
	}
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return nil, &Error{Endpoints: cfg.Endpoints, Op: "open", Err: err}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// Keepalives find a dead member's connection, so that requests go
		// to the live ones.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		TLS:                  tlsCfg,
		Username:             cfg.Username,
		Password:             cfg.Password,
		// The client's own log would land on broker's stderr; its errors
		// reach the caller instead.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, &Error{Endpoints: cfg.Endpoints, Op: "connect", Err: err}
	}
	s := &Store{cli: cli, cfg: cfg, pfx: strings.TrimRight(cfg.Prefix, "/")}
	if err := s.checkSchema(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return s, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.TLS != nil {
		return cfg.TLS.Clone(), nil
	}
	https := false
	for _, e := range cfg.Endpoints {
		if strings.HasPrefix(e, "https://") {
			https = true
		}
	}
	if cfg.CAFile == "" && cfg.CertFile == "" && cfg.KeyFile == "" {
		if https {
			return &tls.Config{MinVersion: tls.VersionTLS12}, nil
		}
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		raw, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read state.tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("state.tls.ca %s holds no PEM certificate", cfg.CAFile)
		}
		c.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("state.tls needs both cert and key for a client certificate")
	}
	if cfg.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load state.tls cert and key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Client is the store's etcd client, for tools and tests.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix is the key prefix, without a trailing slash.
func (s *Store) Prefix() string { return s.pfx }

// Endpoints are the configured client URLs.
func (s *Store) Endpoints() []string { return slices.Clone(s.cfg.Endpoints) }

// Close closes the client. Locks and leaderships still held end with
// their sessions' leases.
func (s *Store) Close() error { return s.cli.Close() }

// schemaVersion is the version this build writes; a variable so that
// tests can pretend to be an older build.
var schemaVersion = state.SchemaVersion

func (s *Store) checkSchema(ctx context.Context) error {
	key := s.pfx + "/meta/schema_version"
	rctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	resp, err := s.cli.Txn(rctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(schemaVersion))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return s.wrap(ctx, "open", err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil
	}
	v, err := strconv.Atoi(string(kvs[0].Value))
	if err != nil {
		return fmt.Errorf("etcd state under %s has a bad schema version %q", s.pfx, kvs[0].Value)
	}
	if v > schemaVersion {
		return fmt.Errorf("etcd state under %s has schema version %d, newer than this broker's %d: upgrade broker", s.pfx, v, schemaVersion)
	}
	// No older versions exist yet; a migration would go here, in a Txn
	// guarded by the version key's revision.
	return nil
}

// --- keys ---

func esc(s string) string { return url.PathEscape(s) }

func unesc(s string) string {
	v, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return v
}

func (s *Store) hostKey(id string) string   { return s.pfx + "/hosts/" + esc(id) }
func (s *Store) intentKey(id string) string { return s.pfx + "/intents/" + esc(id) }
func (s *Store) envDir(env string) string   { return s.pfx + "/env/" + esc(env) + "/" }
func (s *Store) serialKey(env string) string {
	return s.envDir(env) + "serial"
}
func (s *Store) serialBaseKey(env string) string { return s.envDir(env) + "serial-base" }
func (s *Store) indexKey(kind, env, id string) string {
	return s.envDir(env) + kind + "/" + esc(id)
}
func (s *Store) poolDir(pool string) string { return s.pfx + "/pools/" + esc(pool) + "/" }

// prefixEnd is the end of the range of keys starting with p.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }

// retry runs fn until it succeeds, fails with an error that is not
// transient, or the request timeout runs out. Each attempt gets the rest
// of the timeout.
func (s *Store) retry(ctx context.Context, fn func(ctx context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		err := fn(rctx)
		if err == nil || !transient(err) || rctx.Err() != nil {
			if err != nil && rctx.Err() != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (gave up after %s)", err, s.cfg.RequestTimeout)
			}
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-rctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

// --- values ---

type hostValue struct {
	V int `json:"v"`
	state.Host
}

type intentValue struct {
	V int `json:"v"`
	state.Intent
}

func encodeValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decodeHost(raw []byte) (state.Host, error) {
	var v hostValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return state.Host{}, err
	}
	if v.V > schemaVersion {
		return state.Host{}, fmt.Errorf("record has schema version %d, newer than this broker's %d: upgrade broker", v.V, schemaVersion)
	}
	return v.Host, nil
}

func decodeIntent(raw []byte) (state.Intent, error) {
	var v intentValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return state.Intent{}, err
	}
	if v.V > schemaVersion {
		return state.Intent{}, fmt.Errorf("intent has schema version %d, newer than this broker's %d: upgrade broker", v.V, schemaVersion)
	}
	return v.Intent, nil
}

func envOf(raw []byte) (string, error) {
	var v struct {
		Environment string `json:"environment"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	return v.Environment, nil
}

// --- reads ---

// Serial implements state.Store.
func (s *Store) Serial(ctx context.Context, env string) (uint64, error) {
	var n uint64
	err := s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.serialKey(env)), clientv3.OpGet(s.serialBaseKey(env))).Commit()
		if err != nil {
			return err
		}
		n = serialOf(resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs)
		return nil
	})
	return n, s.wrap(ctx, fmt.Sprintf("read serial of %q", env), err)
}

func serialOf(serial, base []*mvccpb.KeyValue) uint64 {
	var n int64
	if len(serial) > 0 {
		n = serial[0].Version
	}
	if len(base) > 0 {
		b, _ := strconv.ParseInt(string(base[0].Value), 10, 64)
		n += b
	}
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// Environments implements state.Store: those whose index holds a record
// or an intent.
func (s *Store) Environments(ctx context.Context) ([]string, error) {
	dir := s.pfx + "/env/"
	var out []string
	err := s.retry(ctx, func(ctx context.Context) error {
		out = nil
		resp, err := s.cli.Get(ctx, dir, clientv3.WithRange(prefixEnd(dir)), clientv3.WithKeysOnly())
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, kv := range resp.Kvs {
			rest := strings.TrimPrefix(string(kv.Key), dir)
			env, sub, ok := strings.Cut(rest, "/")
			if !ok || !(strings.HasPrefix(sub, "h/") || strings.HasPrefix(sub, "i/")) || seen[env] {
				continue
			}
			seen[env] = true
			out = append(out, unesc(env))
		}
		return nil
	})
	sort.Strings(out)
	return out, s.wrap(ctx, "list environments", err)
}

// rangeValues reads every value under dir, in key order.
func (s *Store) rangeValues(ctx context.Context, dir string) ([]*mvccpb.KeyValue, error) {
	var kvs []*mvccpb.KeyValue
	err := s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, dir, clientv3.WithRange(prefixEnd(dir)))
		if err != nil {
			return err
		}
		kvs = resp.Kvs
		return nil
	})
	return kvs, err
}

// Hosts implements state.Store. Records are read in one range (one
// consistent revision) and filtered here: an inventory is hundreds to a
// few thousand records, and the index would cost a request per record.
func (s *Store) Hosts(ctx context.Context, q state.Query) ([]state.Host, error) {
	kvs, err := s.rangeValues(ctx, s.pfx+"/hosts/")
	if err != nil {
		return nil, s.wrap(ctx, "read hosts", err)
	}
	out := make([]state.Host, 0, len(kvs))
	for _, kv := range kvs {
		h, err := decodeHost(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("decode host %s: %w", kv.Key, err)
		}
		if q.Environment != "" && h.Environment != q.Environment {
			continue
		}
		out = append(out, h)
	}
	// Keys are escaped ids; escaping keeps the order of plain ids, but
	// sort by the ids themselves to be exact.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Host implements state.Store.
func (s *Store) Host(ctx context.Context, id string) (state.Host, error) {
	var raw []byte
	err := s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, s.hostKey(id))
		if err != nil {
			return err
		}
		raw = nil
		if len(resp.Kvs) > 0 {
			raw = resp.Kvs[0].Value
		}
		return nil
	})
	if err != nil {
		return state.Host{}, s.wrap(ctx, "read host "+id, err)
	}
	if raw == nil {
		return state.Host{}, fmt.Errorf("host %s: %w", id, state.ErrNotFound)
	}
	h, err := decodeHost(raw)
	if err != nil {
		return state.Host{}, fmt.Errorf("decode host %s: %w", id, err)
	}
	return h, nil
}

// Intents implements state.Store.
func (s *Store) Intents(ctx context.Context, env string) ([]state.Intent, error) {
	kvs, err := s.rangeValues(ctx, s.pfx+"/intents/")
	if err != nil {
		return nil, s.wrap(ctx, "read intents", err)
	}
	var out []state.Intent
	for _, kv := range kvs {
		in, err := decodeIntent(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("decode intent %s: %w", kv.Key, err)
		}
		if env != "" && in.Environment != env {
			continue
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Reserve implements state.Store: the first free candidate, in the
// caller's order, is taken with a Txn that succeeds only if nobody holds
// it; when another runner took it first, the next free one is tried.
func (s *Store) Reserve(ctx context.Context, pool string, candidates []string, holder string) (string, error) {
	if pool == "" {
		return "", errors.New("reserve: empty pool name")
	}
	dir := s.poolDir(pool)
	for {
		var taken map[string]bool
		err := s.retry(ctx, func(ctx context.Context) error {
			resp, err := s.cli.Get(ctx, dir, clientv3.WithRange(prefixEnd(dir)), clientv3.WithKeysOnly())
			if err != nil {
				return err
			}
			taken = map[string]bool{}
			for _, kv := range resp.Kvs {
				taken[unesc(strings.TrimPrefix(string(kv.Key), dir))] = true
			}
			return nil
		})
		if err != nil {
			return "", s.wrap(ctx, fmt.Sprintf("reserve in pool %q", pool), err)
		}
		free := ""
		for _, m := range candidates {
			if m != "" && !taken[m] {
				free = m
				break
			}
		}
		if free == "" {
			return "", fmt.Errorf("pool %q: %w", pool, state.ErrPoolExhausted)
		}
		key := dir + esc(free)
		var won bool
		err = s.retry(ctx, func(ctx context.Context) error {
			resp, err := s.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
				Then(clientv3.OpPut(key, holder)).
				Else(clientv3.OpGet(key)).
				Commit()
			if err != nil {
				return err
			}
			won = resp.Succeeded
			if !won {
				// A retry of our own put that landed before its answer was
				// lost reads back as taken by us.
				if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 && string(kvs[0].Value) == holder && holder != "" {
					won = true
				}
			}
			return nil
		})
		if err != nil {
			return "", s.wrap(ctx, fmt.Sprintf("reserve %q in pool %q", free, pool), err)
		}
		if won {
			return free, nil
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
}

// Release implements state.Store.
func (s *Store) Release(ctx context.Context, pool, member string) error {
	if member == "" {
		return nil
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Delete(ctx, s.poolDir(pool)+esc(member))
		return err
	})
	return s.wrap(ctx, fmt.Sprintf("release %q in pool %q", member, pool), err)
}

// Reservations implements state.Store.
func (s *Store) Reservations(ctx context.Context, pool string) (map[string]string, error) {
	dir := s.poolDir(pool)
	kvs, err := s.rangeValues(ctx, dir)
	if err != nil {
		return nil, s.wrap(ctx, fmt.Sprintf("read reservations of pool %q", pool), err)
	}
	out := map[string]string{}
	for _, kv := range kvs {
		out[unesc(strings.TrimPrefix(string(kv.Key), dir))] = string(kv.Value)
	}
	return out, nil
}

var (
	_ state.PoolLister   = (*Store)(nil)
	_ state.SerialSetter = (*Store)(nil)
)

// Pools lists the pools that have reservations (for migrate).
func (s *Store) Pools(ctx context.Context) ([]string, error) {
	dir := s.pfx + "/pools/"
	var out []string
	err := s.retry(ctx, func(ctx context.Context) error {
		resp, err := s.cli.Get(ctx, dir, clientv3.WithRange(prefixEnd(dir)), clientv3.WithKeysOnly())
		if err != nil {
			return err
		}
		out = nil
		seen := map[string]bool{}
		for _, kv := range resp.Kvs {
			pool, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), dir), "/")
			if !seen[pool] {
				seen[pool] = true
				out = append(out, unesc(pool))
			}
		}
		return nil
	})
	return out, s.wrap(ctx, "list pools", err)
}

// SetSerial sets an environment's serial (for migrate): later writes count
// on from n. It refuses to move a serial backwards, which would let a
// stale saved plan apply.
func (s *Store) SetSerial(ctx context.Context, env string, n uint64) error {
	for {
		var done bool
		var back error
		err := s.retry(ctx, func(ctx context.Context) error {
			resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.serialKey(env)), clientv3.OpGet(s.serialBaseKey(env))).Commit()
			if err != nil {
				return err
			}
			sk := resp.Responses[0].GetResponseRange().Kvs
			bk := resp.Responses[1].GetResponseRange().Kvs
			cur := serialOf(sk, bk)
			if n < cur {
				back = fmt.Errorf("serial of %q is %d; refusing to set it back to %d", env, cur, n)
				return nil
			}
			var version, modRev int64
			if len(sk) > 0 {
				version, modRev = sk[0].Version, sk[0].ModRevision
			}
			base := int64(n) - version
			t, err := s.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(s.serialKey(env)), "=", modRev)).
				Then(clientv3.OpPut(s.serialBaseKey(env), strconv.FormatInt(base, 10))).
				Commit()
			if err != nil {
				return err
			}
			done = t.Succeeded
			return nil
		})
		if err != nil {
			return s.wrap(ctx, fmt.Sprintf("set serial of %q", env), err)
		}
		if back != nil {
			return back
		}
		if done {
			return nil
		}
	}
}

// jitter is a short random pause between compare-and-swap attempts that
// lost to another writer, so that many losers do not collide again.
func jitter(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return ctx.Err()
	}
	d := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var _ state.IdentitySetter = (*Store)(nil)

func (s *Store) identityKey() string { return s.pfx + "/meta/state_id" }

// Identity implements state.Identifier: the prefix's id, made by the first
// runner that asks (a compare-and-swap, so that runners asking at once
// agree).
func (s *Store) Identity(ctx context.Context) (string, error) {
	key := s.identityKey()
	var id string
	err := s.retry(ctx, func(ctx context.Context) error {
		fresh := state.NewIdentity()
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, fresh)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return err
		}
		if resp.Succeeded {
			id = fresh
			return nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			id = string(kvs[0].Value)
		}
		return nil
	})
	return id, s.wrap(ctx, "read state identity", err)
}

// SetIdentity implements state.IdentitySetter.
func (s *Store) SetIdentity(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("empty state identity")
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Put(ctx, s.identityKey(), id)
		return err
	})
	return s.wrap(ctx, "set state identity", err)
}
