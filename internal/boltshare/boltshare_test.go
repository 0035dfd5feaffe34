package boltshare

import (
	"encoding/binary"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestConcurrentUsersShareOneHandle: many goroutines writing through their
// own Acquire never wait on each other's flock, and every write lands.
func TestConcurrentUsersShareOneHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	// A timeout this short would fail at once if two goroutines each opened
	// the file: the second could not get the flock while the first holds it.
	opts := &bbolt.Options{Timeout: 50 * time.Millisecond}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db, release, err := Acquire(path, opts)
			if err != nil {
				errs <- err
				return
			}
			defer release()
			errs <- db.Batch(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				k := binary.BigEndian.AppendUint32(nil, uint32(i))
				return b.Put(k, k)
			})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db, release, err := Acquire(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	n := 0
	if err := db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket([]byte("b")).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Errorf("%d keys, want 200", n)
	}
}

// TestLastReleaseCloses: after the last release the file is closed, so a
// fresh bbolt.Open (as another process would do) gets it at once.
func TestLastReleaseCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	_, r1, err := Acquire(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, r2, err := Acquire(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1(); err != nil {
		t.Fatal(err)
	}
	if _, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 20 * time.Millisecond}); err == nil {
		t.Fatal("the file could be opened while a holder remained")
	}
	if err := r2(); err != nil {
		t.Fatal(err)
	}
	_ = r2() // a second release is harmless
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("after the last release the file is still held: %v", err)
	}
	db.Close()
}

// TestOpenWaitsWhileTheFileIsWritten: an open waits past its timeout for as
// long as the holder keeps writing the file (a hundred processes taking
// turns on it), and times out once the holder stops making progress.
func TestOpenWaitsWhileTheFileIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	const timeout = 200 * time.Millisecond
	// Another handle of the file: its flock keeps Acquire out, as another
	// process's would.
	holder, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder.NoSync = true // many small writes per timeout
	got := make(chan error, 1)
	go func() {
		db, release, err := Acquire(path, &bbolt.Options{Timeout: timeout})
		if err == nil {
			_ = db
			err = release()
		}
		got <- err
	}()
	// Write for several timeouts, then hand the file over.
	start := time.Now()
	for n := 0; time.Since(start) < 4*timeout; n++ {
		if err := holder.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put(binary.BigEndian.AppendUint32(nil, uint32(n)), make([]byte, 512))
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			t.Fatalf("Acquire returned while the holder was writing: %v", err)
		default:
		}
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Acquire after the writing holder left: %v", err)
	}

	// A holder that writes nothing: the open times out.
	holder, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, _, err := Acquire(path, &bbolt.Options{Timeout: timeout}); err == nil {
		t.Fatal("Acquire of a file held by an idle holder succeeded")
	}
}
