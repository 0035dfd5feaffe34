package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/labbroker/broker/state"
)

// Values live under <prefix>/values/<env>/<kind>/<name>, each the JSON of
// a state.Value plus "v", beside (not inside) the environment's index, so
// that an environment holding only values is not listed as holding
// records.

type valueValue struct {
	V int `json:"v"`
	state.Value
}

var _ state.ValueStore = (*Store)(nil)

func (s *Store) valuesDir(env string) string { return s.pfx + "/values/" + esc(env) + "/" }
func (s *Store) valueKey(env, kind, name string) string {
	return s.valuesDir(env) + esc(kind) + "/" + esc(name)
}

// PutValues implements state.ValueStore, in one Txn.
func (s *Store) PutValues(ctx context.Context, vals ...state.Value) error {
	if len(vals) == 0 {
		return nil
	}
	now := time.Now().UTC()
	var ops []clientv3.Op
	for _, v := range vals {
		if v.Environment == "" || v.Kind == "" || v.Name == "" {
			return fmt.Errorf("put value: environment, kind and name are required (%q, %q, %q)", v.Environment, v.Kind, v.Name)
		}
		v.Updated = now
		raw, err := encodeValue(valueValue{V: schemaVersion, Value: v})
		if err != nil {
			return fmt.Errorf("encode value %s.%s: %w", v.Kind, v.Name, err)
		}
		ops = append(ops, clientv3.OpPut(s.valueKey(v.Environment, v.Kind, v.Name), string(raw)))
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Txn(ctx).Then(ops...).Commit()
		return err
	})
	return s.wrap(ctx, "write values", err)
}

// Values implements state.ValueStore.
func (s *Store) Values(ctx context.Context, env, kind string) ([]state.Value, error) {
	dir := s.valuesDir(env)
	if kind != "" {
		dir += esc(kind) + "/"
	}
	kvs, err := s.rangeValues(ctx, dir)
	if err != nil {
		return nil, s.wrap(ctx, fmt.Sprintf("read values of %q", env), err)
	}
	out := make([]state.Value, 0, len(kvs))
	for _, kv := range kvs {
		var v valueValue
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			return nil, fmt.Errorf("decode value %s: %w", kv.Key, err)
		}
		if v.V > schemaVersion {
			return nil, fmt.Errorf("value %s has schema version %d, newer than this broker's %d: upgrade broker", kv.Key, v.V, schemaVersion)
		}
		out = append(out, v.Value)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// DeleteValues implements state.ValueStore.
func (s *Store) DeleteValues(ctx context.Context, env, kind string, names ...string) error {
	if kind == "" {
		return errors.New("delete values: kind is required")
	}
	var ops []clientv3.Op
	if len(names) == 0 {
		dir := s.valuesDir(env) + esc(kind) + "/"
		ops = append(ops, clientv3.OpDelete(dir, clientv3.WithRange(prefixEnd(dir))))
	}
	for _, n := range names {
		ops = append(ops, clientv3.OpDelete(s.valueKey(env, kind, n)))
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.cli.Txn(ctx).Then(ops...).Commit()
		return err
	})
	return s.wrap(ctx, "delete values", err)
}
