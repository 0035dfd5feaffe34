// The state file's bucket tree:
//
//	meta
//	├── schema_version      "1" (decimal; refused when newer than this build)
//	├── state_id            the state's identity (state.NewIdentity), made once
//	└── serials/            (bucket)
//	    └── <env>           uint64, big endian: the environment's write counter
//	hosts
//	└── <id>                JSON of state.Host plus "v": schema version
//	intents
//	└── <id>                JSON of state.Intent plus "v"
//	envs                    index: what each environment holds
//	└── <env>/              (bucket; removed when it empties)
//	    ├── h/<id>          ""  a host record of the environment
//	    └── i/<id>          ""  an intent of the environment
//	pools
//	└── <pool>/             (bucket)
//	    └── <member>        holder
//	values                  (made on first write; see values.go)
//	└── <env>/              (bucket)
//	    └── <kind>/<name>   JSON of state.Value plus "v"
//
// Ids sort by time (state.NewID), so cursor order is id order and Hosts
// needs no sort.

package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/labbroker/broker/internal/boltshare"
	"github.com/labbroker/broker/state"
)

var (
	bucketMeta    = []byte("meta")
	bucketSerials = []byte("serials")
	bucketHosts   = []byte("hosts")
	bucketIntents = []byte("intents")
	bucketEnvs    = []byte("envs")
	bucketPools   = []byte("pools")

	keySchema  = []byte("schema_version")
	keyStateID = []byte("state_id")

	prefixHost   = []byte("h/")
	prefixIntent = []byte("i/")
)

// schemaVersion is the version this build writes; a variable only so that
// tests can exercise migrations.
var schemaVersion = state.SchemaVersion

// migrations[n-1] moves a file from schema version n to n+1. They run in
// the write transaction that first opens an older file, all or nothing.
var migrations []func(tx *bbolt.Tx) error

// Options control a Store.
type Options struct {
	// OpenTimeout is how long an operation waits for another process that
	// holds the file; default 5s.
	OpenTimeout time.Duration
	// LockDir holds the per-environment lock files; default <dir of path>/locks.
	LockDir string
	// Holder describes this process in the note each writer leaves beside
	// the file (pid, user, machine, subcommand), so that a process that
	// times out can name it. Its PID and Since are filled in. Never the
	// command line: it may hold --var secret=….
	Holder state.LockInfo
}

// Store is the bbolt backend of state.Store. It holds no open file between
// operations; see the package documentation for why.
type Store struct {
	path string
	opts Options
}

var (
	_ state.Store  = (*Store)(nil)
	_ state.Writer = (*Store)(nil)
)

// Open prepares the state file at path, creating it (0600, its directory
// 0700) and migrating it to this build's schema if needed. It refuses a
// file written by a newer build.
func Open(path string, opts Options) (*Store, error) {
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 5 * time.Second
	}
	if opts.LockDir == "" {
		opts.LockDir = filepath.Join(filepath.Dir(path), "locks")
	}
	if opts.Holder.User == "" {
		if u, err := user.Current(); err == nil {
			opts.Holder.User = u.Username
		}
	}
	if opts.Holder.Machine == "" {
		opts.Holder.Machine, _ = os.Hostname()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	s := &Store{path: path, opts: opts}
	// A read first: it shares the file with other readers, and most opens
	// find the file present and current.
	err := s.view(func(*bbolt.Tx) error { return nil })
	if errors.Is(err, errOldSchema) || errors.Is(err, fs.ErrNotExist) {
		err = s.update(func(*bbolt.Tx) error { return nil })
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close does nothing: no file is held between operations.
func (s *Store) Close() error { return nil }

var errOldSchema = errors.New("state file has an older schema")

// view runs fn in a read transaction on a freshly opened file. A missing
// file reads as fs.ErrNotExist (wrapped), which callers turn into "empty".
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	if _, err := os.Stat(s.path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	db, release, err := s.open()
	if err != nil {
		return err
	}
	defer release()
	return db.View(func(tx *bbolt.Tx) error {
		v, err := fileVersion(tx)
		if err != nil {
			return err
		}
		if v < schemaVersion {
			return fmt.Errorf("%w (version %d)", errOldSchema, v)
		}
		return fn(tx)
	})
}

// viewOrEmpty is view where a missing file, or one not yet migrated,
// is handled: missing means empty; old means migrate first.
func (s *Store) viewOrEmpty(fn func(tx *bbolt.Tx) error) error {
	err := s.view(fn)
	if errors.Is(err, errOldSchema) {
		if err := s.update(func(*bbolt.Tx) error { return nil }); err != nil {
			return err
		}
		err = s.view(fn)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// update runs fn in a write transaction on a freshly opened file, after
// bringing the file to this build's schema.
func (s *Store) update(fn func(tx *bbolt.Tx) error) error {
	db, release, err := s.open()
	if err != nil {
		return err
	}
	defer release()
	writeHolder(s.path, s.opts.Holder)
	return db.Update(func(tx *bbolt.Tx) error {
		if err := prepare(tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// open takes the process's shared handle of the file (internal/boltshare):
// goroutines of one process must not exclude each other through flock, and
// the file is closed as soon as the last of them is done, so that other
// broker processes get in.
func (s *Store) open() (*bbolt.DB, func() error, error) {
	db, release, err := boltshare.Acquire(s.path, &bbolt.Options{
		Timeout: s.opts.OpenTimeout,
		// The freelist stays synced (the default): with NoFreelistSync
		// every write-open would rebuild it by scanning the whole file,
		// and this store opens the file for every write.
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, nil, timeoutError(s.path, s.opts.OpenTimeout)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open state file %s: %w", s.path, err)
	}
	return db, release, nil
}

// fileVersion reads the schema version; 0 for a file not yet initialised.
func fileVersion(tx *bbolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get(keySchema)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, fmt.Errorf("state file has a bad schema version %q: %w", raw, err)
	}
	if v > schemaVersion {
		return v, fmt.Errorf("state file has schema version %d, newer than this broker's %d: upgrade broker", v, schemaVersion)
	}
	return v, nil
}

// prepare creates the buckets of a new file and runs the migrations of an
// older one, inside the caller's write transaction.
func prepare(tx *bbolt.Tx) error {
	v, err := fileVersion(tx)
	if err != nil {
		return err
	}
	if v == schemaVersion {
		return nil
	}
	if v == 0 {
		// A new file is created at the current version directly.
		for _, name := range [][]byte{bucketMeta, bucketHosts, bucketIntents, bucketEnvs, bucketPools} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if _, err := tx.Bucket(bucketMeta).CreateBucketIfNotExists(bucketSerials); err != nil {
			return fmt.Errorf("create bucket serials: %w", err)
		}
		if _, err := ensureIdentity(tx); err != nil {
			return err
		}
	} else {
		for ; v < schemaVersion; v++ {
			if v-1 >= len(migrations) || migrations[v-1] == nil {
				return fmt.Errorf("no migration from state schema version %d", v)
			}
			if err := migrations[v-1](tx); err != nil {
				return fmt.Errorf("migrate state from schema version %d to %d: %w", v, v+1, err)
			}
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
}

// hostValue and intentValue are the stored encodings: the record's fields
// with the schema version beside them.
type hostValue struct {
	V int `json:"v"`
	state.Host
}

type intentValue struct {
	V int `json:"v"`
	state.Intent
}

var _ state.IdentitySetter = (*Store)(nil)

// Identity implements state.Identifier. A file made by a build that knew
// no identity gets one on first use.
func (s *Store) Identity(ctx context.Context) (string, error) {
	var id string
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyStateID))
		return nil
	})
	if err != nil || id != "" {
		return id, err
	}
	err = s.update(func(tx *bbolt.Tx) error {
		var err error
		id, err = ensureIdentity(tx)
		return err
	})
	return id, err
}

// SetIdentity implements state.IdentitySetter.
func (s *Store) SetIdentity(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("empty state identity")
	}
	return s.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyStateID, []byte(id))
	})
}

// ensureIdentity returns the file's identity, making one if it has none.
func ensureIdentity(tx *bbolt.Tx) (string, error) {
	meta := tx.Bucket(bucketMeta)
	if id := meta.Get(keyStateID); len(id) > 0 {
		return string(id), nil
	}
	id := state.NewIdentity()
	if err := meta.Put(keyStateID, []byte(id)); err != nil {
		return "", fmt.Errorf("write state identity: %w", err)
	}
	return id, nil
}

// Serial implements state.Store.
func (s *Store) Serial(ctx context.Context, env string) (uint64, error) {
	var n uint64
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		n = readSerial(tx, env)
		return nil
	})
	return n, err
}

func readSerial(tx *bbolt.Tx, env string) uint64 {
	raw := tx.Bucket(bucketMeta).Bucket(bucketSerials).Get([]byte(env))
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func bumpSerials(tx *bbolt.Tx, envs map[string]bool) error {
	b := tx.Bucket(bucketMeta).Bucket(bucketSerials)
	for env := range envs {
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], readSerial(tx, env)+1)
		if err := b.Put([]byte(env), buf[:]); err != nil {
			return fmt.Errorf("bump serial of %q: %w", env, err)
		}
	}
	return nil
}

// Environments implements state.Store.
func (s *Store) Environments(ctx context.Context) ([]string, error) {
	var out []string
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEnvs).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Hosts implements state.Store.
func (s *Store) Hosts(ctx context.Context, q state.Query) ([]state.Host, error) {
	// Records are decoded straight from the mapped file: the decoder copies
	// each record into a string of its own, so nothing outlives the
	// transaction, and copying them out first would cost a second copy of
	// the whole inventory (10 MB for 10,000 hosts) for nothing.
	var hosts []state.Host
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		var err error
		hosts, err = decodeAll(refs(tx, bucketHosts, q.Environment, prefixHost), decodeHost)
		return err
	})
	if err != nil {
		return nil, err
	}
	return hosts, nil
}

// collect copies the values of bucket, all of them or those the
// environment's index lists, in key order, into one arena.
func collect(tx *bbolt.Tx, bucket []byte, env string, prefix []byte) [][]byte {
	vals := refs(tx, bucket, env, prefix)
	size := 0
	for _, v := range vals {
		size += len(v)
	}
	return copyOut(vals, size)
}

// refs are the values of bucket as collect selects them, pointing into the
// mapped file: valid only inside the transaction.
func refs(tx *bbolt.Tx, bucket []byte, env string, prefix []byte) [][]byte {
	b := tx.Bucket(bucket)
	var keys [][]byte
	if env != "" {
		idx := tx.Bucket(bucketEnvs).Bucket([]byte(env))
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, k[len(prefix):])
		}
		vals := make([][]byte, 0, len(keys))
		for _, k := range keys {
			if v := b.Get(k); v != nil {
				vals = append(vals, v)
			}
		}
		return vals
	}
	// No preallocation by b.Stats().KeyN: counting walks every page,
	// which costs more than growing the slice.
	var vals [][]byte
	_ = b.ForEach(func(_, v []byte) error {
		vals = append(vals, v)
		return nil
	})
	return vals
}

// copyOut copies values that point into the mmap into one allocation:
// they must not outlive the transaction.
func copyOut(vals [][]byte, size int) [][]byte {
	arena := make([]byte, 0, size)
	for i, v := range vals {
		start := len(arena)
		arena = append(arena, v...)
		vals[i] = arena[start:len(arena):len(arena)]
	}
	return vals
}

// Host implements state.Store.
func (s *Store) Host(ctx context.Context, id string) (state.Host, error) {
	var raw []byte
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketHosts).Get([]byte(id)); v != nil {
			raw = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return state.Host{}, err
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

// Put implements state.Store.
func (s *Store) Put(ctx context.Context, hosts ...state.Host) error {
	return s.Apply(ctx, state.Batch{Put: hosts})
}

// Delete implements state.Store.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	return s.Apply(ctx, state.Batch{Delete: ids})
}

// PutIntents implements state.Store.
func (s *Store) PutIntents(ctx context.Context, intents ...state.Intent) error {
	return s.Apply(ctx, state.Batch{PutIntents: intents})
}

// DeleteIntents implements state.Store.
func (s *Store) DeleteIntents(ctx context.Context, ids ...string) error {
	return s.Apply(ctx, state.Batch{DeleteIntents: ids})
}

// Apply implements state.Writer: the whole batch is one transaction.
func (s *Store) Apply(ctx context.Context, b state.Batch) error {
	if b.Empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Encoding happens before the file is opened, so that the file is held
	// only for the writes themselves.
	now := time.Now().UTC()
	hosts := make([][]byte, len(b.Put))
	for i, h := range b.Put {
		if h.ID == "" {
			return &state.RecordError{Err: errors.New("put host: empty id")}
		}
		if h.Environment == "" {
			return &state.RecordError{ID: h.ID, Err: errors.New("put host: empty environment")}
		}
		if h.Created.IsZero() {
			h.Created = now
		}
		h.Updated = now
		raw, err := encodeValue(hostValue{V: schemaVersion, Host: h})
		if err != nil {
			return &state.RecordError{ID: h.ID, Err: fmt.Errorf("encode host: %w", err)}
		}
		hosts[i] = raw
	}
	intents := make([][]byte, len(b.PutIntents))
	for i, in := range b.PutIntents {
		if in.ID == "" {
			return &state.RecordError{Err: errors.New("put intent: empty id")}
		}
		if in.Environment == "" {
			return &state.RecordError{ID: in.ID, Err: errors.New("put intent: empty environment")}
		}
		if in.Created.IsZero() {
			in.Created = now
		}
		in.Updated = now
		raw, err := encodeValue(intentValue{V: schemaVersion, Intent: in})
		if err != nil {
			return &state.RecordError{ID: in.ID, Err: fmt.Errorf("encode intent: %w", err)}
		}
		intents[i] = raw
	}

	return s.update(func(tx *bbolt.Tx) error {
		touched := map[string]bool{}
		for i, h := range b.Put {
			if err := put(tx, bucketHosts, prefixHost, h.ID, h.Environment, hosts[i], touched); err != nil {
				return fmt.Errorf("put host %s: %w", h.ID, err)
			}
		}
		for _, id := range b.Delete {
			if err := del(tx, bucketHosts, prefixHost, id, touched); err != nil {
				return fmt.Errorf("delete host %s: %w", id, err)
			}
		}
		for i, in := range b.PutIntents {
			if err := put(tx, bucketIntents, prefixIntent, in.ID, in.Environment, intents[i], touched); err != nil {
				return fmt.Errorf("put intent %s: %w", in.ID, err)
			}
		}
		for _, id := range b.DeleteIntents {
			if err := del(tx, bucketIntents, prefixIntent, id, touched); err != nil {
				return fmt.Errorf("delete intent %s: %w", id, err)
			}
		}
		return bumpSerials(tx, touched)
	})
}

// encodeValue encodes a stored value. HTML escaping is off: it is of no
// use in a database, and unescaped values stay on decodeHost's fast path.
func encodeValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// envOf reads only the environment of a stored record, for keeping the
// index right when a record moves or goes.
func envOf(raw []byte) (string, error) {
	var v struct {
		Environment string `json:"environment"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	return v.Environment, nil
}

func put(tx *bbolt.Tx, bucket, prefix []byte, id, env string, raw []byte, touched map[string]bool) error {
	b := tx.Bucket(bucket)
	key := []byte(id)
	if old := b.Get(key); old != nil {
		oldEnv, err := envOf(old)
		if err != nil {
			return fmt.Errorf("decode stored record: %w", err)
		}
		if oldEnv != env {
			if err := unindex(tx, oldEnv, prefix, key); err != nil {
				return err
			}
			touched[oldEnv] = true
		}
	}
	if err := b.Put(key, raw); err != nil {
		return err
	}
	idx, err := tx.Bucket(bucketEnvs).CreateBucketIfNotExists([]byte(env))
	if err != nil {
		return fmt.Errorf("index environment %q: %w", env, err)
	}
	if err := idx.Put(append(bytes.Clone(prefix), key...), nil); err != nil {
		return err
	}
	touched[env] = true
	return nil
}

func del(tx *bbolt.Tx, bucket, prefix []byte, id string, touched map[string]bool) error {
	b := tx.Bucket(bucket)
	key := []byte(id)
	old := b.Get(key)
	if old == nil {
		return nil
	}
	env, err := envOf(old)
	if err != nil {
		return fmt.Errorf("decode stored record: %w", err)
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	if err := unindex(tx, env, prefix, key); err != nil {
		return err
	}
	touched[env] = true
	return nil
}

// unindex removes a record from its environment's index, and the index
// itself once empty, so that Environments lists only environments that
// hold something.
func unindex(tx *bbolt.Tx, env string, prefix, key []byte) error {
	envs := tx.Bucket(bucketEnvs)
	idx := envs.Bucket([]byte(env))
	if idx == nil {
		return nil
	}
	if err := idx.Delete(append(bytes.Clone(prefix), key...)); err != nil {
		return err
	}
	if k, _ := idx.Cursor().First(); k == nil {
		return envs.DeleteBucket([]byte(env))
	}
	return nil
}

// Intents implements state.Store.
func (s *Store) Intents(ctx context.Context, env string) ([]state.Intent, error) {
	var raws [][]byte
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		raws = collect(tx, bucketIntents, env, prefixIntent)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return decodeAll(raws, decodeIntent)
}

// Reserve implements state.Store: the first free candidate, in the
// caller's order, is taken in one write transaction.
func (s *Store) Reserve(ctx context.Context, pool string, candidates []string, holder string) (string, error) {
	if pool == "" {
		return "", errors.New("reserve: empty pool name")
	}
	var got string
	err := s.update(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bucketPools).CreateBucketIfNotExists([]byte(pool))
		if err != nil {
			return err
		}
		for _, m := range candidates {
			if m == "" || b.Get([]byte(m)) != nil {
				continue
			}
			got = m
			return b.Put([]byte(m), []byte(holder))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reserve in pool %q: %w", pool, err)
	}
	if got == "" {
		return "", fmt.Errorf("pool %q: %w", pool, state.ErrPoolExhausted)
	}
	return got, nil
}

// Release implements state.Store.
func (s *Store) Release(ctx context.Context, pool, member string) error {
	err := s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPools).Bucket([]byte(pool))
		if b == nil || member == "" {
			return nil
		}
		return b.Delete([]byte(member))
	})
	if err != nil {
		return fmt.Errorf("release %q in pool %q: %w", member, pool, err)
	}
	return nil
}

// Reservations implements state.Store.
func (s *Store) Reservations(ctx context.Context, pool string) (map[string]string, error) {
	out := map[string]string{}
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPools).Bucket([]byte(pool))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

var _ state.PoolLister = (*Store)(nil)

// Pools lists the pools that have reservations (for `broker state migrate`).
func (s *Store) Pools(ctx context.Context) ([]string, error) {
	var out []string
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPools).ForEachBucket(func(k []byte) error {
			if tx.Bucket(bucketPools).Bucket(k).Stats().KeyN > 0 {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, err
}

// The holder note (<path>.holder) is a state.LockInfo written by each
// writer once it has the file, so that a process that times out can say
// who last had it.
func holderPath(path string) string { return path + ".holder" }

func writeHolder(path string, info state.LockInfo) {
	info.PID, info.Since = os.Getpid(), time.Now().UTC()
	raw, _ := json.Marshal(info)
	// Best effort: the note only improves an error message.
	_ = os.WriteFile(holderPath(path), raw, 0o600)
}

func timeoutError(path string, timeout time.Duration) error {
	msg := fmt.Sprintf("another broker process is holding the state file %s (waited %s)", path, timeout)
	if h := readLockInfo(holderPath(path)); h.PID != 0 && h.PID != os.Getpid() {
		msg += "; last writer: " + h.String()
	}
	return fmt.Errorf("%s: %w", msg, ErrBusy)
}

// ErrBusy is wrapped by the error of an operation that timed out waiting
// for another process holding the state file.
var ErrBusy = errors.New("state file busy")
