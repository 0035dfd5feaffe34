package etcd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/labbroker/broker/state"
)

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

// change is what a batch does to one key, its operations folded in order.
type change struct {
	key   string
	kind  string // "h" or "i": the index the key belongs to
	id    string
	final []byte // the value to leave; nil: delete
	env   string // the environment of final
	// putEnvs are the environments of every put of the key in the batch:
	// each is touched (its serial bumped) even if a later delete undoes it.
	putEnvs []string
}

// Apply implements state.Writer: the batch's writes in one Txn, or in as
// few as etcd's operation limit allows, with each touched environment's
// serial bumped once (in the last Txn). See the package documentation.
func (s *Store) Apply(ctx context.Context, b state.Batch) error {
	if b.Empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now().UTC()
	byKey := map[string]*change{}
	var order []*change
	at := func(key, kind, id string) *change {
		c := byKey[key]
		if c == nil {
			c = &change{key: key, kind: kind, id: id}
			byKey[key] = c
			order = append(order, c)
		}
		return c
	}
	for _, h := range b.Put {
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
		c := at(s.hostKey(h.ID), "h", h.ID)
		c.final, c.env = raw, h.Environment
		c.putEnvs = append(c.putEnvs, h.Environment)
	}
	for _, id := range b.Delete {
		c := at(s.hostKey(id), "h", id)
		c.final, c.env = nil, ""
	}
	for _, in := range b.PutIntents {
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
		c := at(s.intentKey(in.ID), "i", in.ID)
		c.final, c.env = raw, in.Environment
		c.putEnvs = append(c.putEnvs, in.Environment)
	}
	for _, id := range b.DeleteIntents {
		c := at(s.intentKey(id), "i", id)
		c.final, c.env = nil, ""
	}

	// A key costs at most three operations (record, new index entry, old
	// index entry) and one compare.
	per := max(1, s.cfg.MaxTxnOps/3)
	touched := map[string]bool{}
	var bumped bool
	for start := 0; start < len(order); start += per {
		chunk := order[start:min(start+per, len(order))]
		last := start+per >= len(order)
		var err error
		bumped, err = s.applyChunk(ctx, chunk, touched, last)
		if err != nil {
			// Earlier chunks are written: their environments' serials
			// must still move, or a plan made before would apply over
			// them.
			if start > 0 && !bumped {
				err = errors.Join(err, s.bump(ctx, touched))
			}
			return s.wrap(ctx, "write", err)
		}
	}
	if !bumped {
		return s.wrap(ctx, "write", s.bump(ctx, touched))
	}
	return nil
}

// applyChunk writes one chunk with compare-and-swap, retrying when another
// writer changed a key in between. With last set it also bumps the serials
// of every environment touched so far, if they fit in the same Txn; it
// reports whether it did.
func (s *Store) applyChunk(ctx context.Context, chunk []*change, touched map[string]bool, last bool) (bool, error) {
	for attempt := 0; ; attempt++ {
		if err := jitter(ctx, attempt); err != nil {
			return false, err
		}
		// Read what is stored.
		gets := make([]clientv3.Op, len(chunk))
		for i, c := range chunk {
			gets[i] = clientv3.OpGet(c.key)
		}
		var read *clientv3.TxnResponse
		err := s.retry(ctx, func(ctx context.Context) error {
			var err error
			read, err = s.cli.Txn(ctx).Then(gets...).Commit()
			return err
		})
		if err != nil {
			return false, err
		}

		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		envs := map[string]bool{}
		for i, c := range chunk {
			var modRev int64
			var oldEnv string
			var exists bool
			if kvs := read.Responses[i].GetResponseRange().Kvs; len(kvs) > 0 {
				exists, modRev = true, kvs[0].ModRevision
				if oldEnv, err = envOf(kvs[0].Value); err != nil {
					return false, &state.RecordError{ID: c.id, Err: fmt.Errorf("decode stored record: %w", err)}
				}
			}
			for _, e := range c.putEnvs {
				envs[e] = true
			}
			if exists {
				envs[oldEnv] = true
			}
			if !exists && c.final == nil {
				continue // deleting what is not there: nothing to write
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.key), "=", modRev))
			if c.final != nil {
				ops = append(ops, clientv3.OpPut(c.key, string(c.final)), clientv3.OpPut(s.indexKey(c.kind, c.env, c.id), ""))
				if exists && oldEnv != c.env {
					ops = append(ops, clientv3.OpDelete(s.indexKey(c.kind, oldEnv, c.id)))
				}
			} else {
				ops = append(ops, clientv3.OpDelete(c.key), clientv3.OpDelete(s.indexKey(c.kind, oldEnv, c.id)))
			}
		}
		all := map[string]bool{}
		for e := range touched {
			all[e] = true
		}
		for e := range envs {
			all[e] = true
		}
		bump := last && len(ops)+len(all) <= s.cfg.MaxTxnOps
		if bump {
			for _, e := range sortedKeys(all) {
				ops = append(ops, clientv3.OpPut(s.serialKey(e), ""))
			}
		}
		if len(ops) == 0 {
			for e := range envs {
				touched[e] = true
			}
			return bump, nil
		}
		var resp *clientv3.TxnResponse
		err = s.retry(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
			return err
		})
		if err != nil {
			return false, err
		}
		if resp.Succeeded {
			for e := range envs {
				touched[e] = true
			}
			return bump, nil
		}
	}
}

// bump puts each environment's serial key once, in one Txn per
// MaxTxnOps environments.
func (s *Store) bump(ctx context.Context, envs map[string]bool) error {
	keys := sortedKeys(envs)
	for len(keys) > 0 {
		n := min(len(keys), s.cfg.MaxTxnOps)
		ops := make([]clientv3.Op, n)
		for i, e := range keys[:n] {
			ops[i] = clientv3.OpPut(s.serialKey(e), "")
		}
		if err := s.retry(ctx, func(ctx context.Context) error {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			return err
		}); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
