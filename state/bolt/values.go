package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/labbroker/broker/state"
)

// The values bucket (made on first write; older files simply lack it):
//
//	values
//	└── <env>/              (bucket; removed when it empties)
//	    └── <kind>/<name>   JSON of state.Value plus "v"

var bucketValues = []byte("values")

type valueValue struct {
	V int `json:"v"`
	state.Value
}

var _ state.ValueStore = (*Store)(nil)

func valueKey(kind, name string) []byte { return []byte(kind + "/" + name) }

// PutValues implements state.ValueStore.
func (s *Store) PutValues(ctx context.Context, vals ...state.Value) error {
	if len(vals) == 0 {
		return nil
	}
	now := time.Now().UTC()
	raws := make([][]byte, len(vals))
	for i, v := range vals {
		if v.Environment == "" || v.Kind == "" || v.Name == "" || strings.Contains(v.Kind, "/") {
			return fmt.Errorf("put value: environment, kind and name are required (%q, %q, %q)", v.Environment, v.Kind, v.Name)
		}
		v.Updated = now
		raw, err := encodeValue(valueValue{V: schemaVersion, Value: v})
		if err != nil {
			return fmt.Errorf("encode value %s.%s: %w", v.Kind, v.Name, err)
		}
		raws[i] = raw
	}
	return s.update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketValues)
		if err != nil {
			return err
		}
		for i, v := range vals {
			b, err := root.CreateBucketIfNotExists([]byte(v.Environment))
			if err != nil {
				return err
			}
			if err := b.Put(valueKey(v.Kind, v.Name), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Values implements state.ValueStore.
func (s *Store) Values(ctx context.Context, env, kind string) ([]state.Value, error) {
	var out []state.Value
	err := s.viewOrEmpty(func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketValues)
		if root == nil {
			return nil
		}
		b := root.Bucket([]byte(env))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, raw []byte) error {
			if kind != "" && !strings.HasPrefix(string(k), kind+"/") {
				return nil
			}
			var v valueValue
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode value %s: %w", k, err)
			}
			if v.V > schemaVersion {
				return fmt.Errorf("value %s has schema version %d, newer than this broker's %d: upgrade broker", k, v.V, schemaVersion)
			}
			out = append(out, v.Value)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// DeleteValues implements state.ValueStore.
func (s *Store) DeleteValues(ctx context.Context, env, kind string, names ...string) error {
	if kind == "" {
		return errors.New("delete values: kind is required")
	}
	return s.update(func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketValues)
		if root == nil {
			return nil
		}
		b := root.Bucket([]byte(env))
		if b == nil {
			return nil
		}
		var keys [][]byte
		if len(names) == 0 {
			c := b.Cursor()
			pfx := []byte(kind + "/")
			for k, _ := c.Seek(pfx); k != nil && strings.HasPrefix(string(k), string(pfx)); k, _ = c.Next() {
				keys = append(keys, append([]byte(nil), k...))
			}
		}
		for _, n := range names {
			keys = append(keys, valueKey(kind, n))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if k, _ := b.Cursor().First(); k == nil {
			return root.DeleteBucket([]byte(env))
		}
		return nil
	})
}
