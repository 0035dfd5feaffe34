package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/labbroker/broker/internal/boltshare"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/labbroker/broker/providers"
)

// The sim file's bucket tree:
//
//	hosts
//	└── <provider id>   JSON of record
//
// The hosts bucket's sequence numbers the hosts (ids and addresses).
var bucketHosts = []byte("hosts")

// openTimeout is how long an operation waits for another process that has
// the sim file open; operations are short, so this only trips on a stuck one.
const openTimeout = 5 * time.Second

// record is a simulated host as the sim file keeps it.
type record struct {
	ProviderID  string            `json:"provider_id"`
	Seq         uint64            `json:"seq"`
	Name        string            `json:"name"`
	Hostname    string            `json:"hostname"`
	IP          string            `json:"ip"`
	Environment string            `json:"environment,omitempty"`
	Address     string            `json:"address,omitempty"`
	Recipe      map[string]any    `json:"recipe,omitempty"`
	Facts       map[string]any    `json:"facts,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Lease       time.Duration     `json:"lease,omitempty"`
	Expires     time.Time         `json:"expires,omitzero"`
	Created     time.Time         `json:"created"`
}

func (r record) info() providers.HostInfo {
	return providers.HostInfo{
		ProviderID: r.ProviderID,
		Name:       r.Name,
		Hostname:   r.Hostname,
		IP:         r.IP,
		Transport:  providers.TransportNone,
		Facts:      maps.Clone(r.Facts),
		Labels:     maps.Clone(r.Labels),
		Expires:    r.Expires,
		Created:    r.Created,
	}
}

// withDB opens the sim file for one transaction and closes it, so that no
// process keeps other broker processes out of the simulated lab.
func withDB(path string, write bool, fn func(b *bbolt.Bucket) error) error {
	if !write {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return fn(nil)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create sim directory: %w", err)
	}
	// One handle per file per process (see internal/boltshare): the
	// goroutines of an apply share it, other processes get in between.
	db, release, err := boltshare.Acquire(path, &bbolt.Options{Timeout: openTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("another process is holding the sim file %s", path)
	}
	if err != nil {
		return fmt.Errorf("open sim file: %w", err)
	}
	defer release()
	if !write {
		return db.View(func(tx *bbolt.Tx) error { return fn(tx.Bucket(bucketHosts)) })
	}
	// Batch coalesces concurrent checkouts into few fsyncs; fn may run
	// twice if a combined transaction fails, and every fn here is
	// idempotent.
	return db.Batch(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketHosts)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

func decode(v []byte) (record, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decode sim host: %w", err)
	}
	return r, nil
}

// list reads every record, in provider id order; b may be nil (no file yet).
func list(b *bbolt.Bucket) ([]record, error) {
	if b == nil {
		return nil, nil
	}
	var out []record
	err := b.ForEach(func(_, v []byte) error {
		r, err := decode(v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func get(b *bbolt.Bucket, id string) (record, bool, error) {
	if b == nil || id == "" {
		return record{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return record{}, false, nil
	}
	r, err := decode(v)
	return r, err == nil, err
}

func put(b *bbolt.Bucket, r record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode sim host: %w", err)
	}
	return b.Put([]byte(r.ProviderID), raw)
}

// Hosts lists what the sim file at path holds, by provider id. A missing
// file holds nothing. Tests use it to check that nothing was leaked.
func Hosts(path string) ([]providers.HostInfo, error) {
	var out []providers.HostInfo
	err := withDB(path, false, func(b *bbolt.Bucket) error {
		recs, err := list(b)
		for _, r := range recs {
			out = append(out, r.info())
		}
		return err
	})
	return out, err
}
