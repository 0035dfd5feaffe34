package executor

import (
	"context"
	"errors"
	"time"
)

// Retries of temporary provider errors.
const maxAttempts = 3

var (
	retryBase = 500 * time.Millisecond
	retryCap  = 5 * time.Second
)

// temporary reports whether err says it may pass on a retry.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// retry calls f until it succeeds, fails for good, or has failed
// maxAttempts times, waiting between attempts with capped exponential
// backoff unless ctx ends.
func (j *job) retry(ctx context.Context, f func(attempt int) error) error {
	for attempt := 0; ; attempt++ {
		err := f(attempt)
		if err == nil || attempt+1 >= maxAttempts || !temporary(err) || ctx.Err() != nil {
			return err
		}
		d := min(retryBase<<attempt, retryCap)
		j.note("temporary error, retrying in %s: %v", d, err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
