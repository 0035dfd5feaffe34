package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Batch is a mixed set of writes applied in one backend transaction, in
// this order: Put, Delete, PutIntents, DeleteIntents.
type Batch struct {
	Put           []Host
	Delete        []string
	PutIntents    []Intent
	DeleteIntents []string
}

// Empty reports whether the batch writes nothing.
func (b Batch) Empty() bool {
	return len(b.Put) == 0 && len(b.Delete) == 0 && len(b.PutIntents) == 0 && len(b.DeleteIntents) == 0
}

func (b *Batch) add(o Batch) {
	b.Put = append(b.Put, o.Put...)
	b.Delete = append(b.Delete, o.Delete...)
	b.PutIntents = append(b.PutIntents, o.PutIntents...)
	b.DeleteIntents = append(b.DeleteIntents, o.DeleteIntents...)
}

// RecordError is a write's failure caused by one record (an empty id, a
// value that does not encode) rather than by the backend. A Batcher that
// gets one for a combined round retries each caller's writes on its own,
// so that only the culprit's caller fails.
type RecordError struct {
	ID  string
	Err error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %q: %v", e.ID, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// Writer is an optional Store capability: a backend that can apply mixed
// writes in one transaction. Apply follows the rules of the single calls
// (timestamps, ignored unknown ids) and bumps each touched environment's
// serial once.
type Writer interface {
	Apply(ctx context.Context, b Batch) error
}

// Batcher is a Store that coalesces concurrent writes (group commit).
//
// While one round of writes is in the backend, writes arriving from other
// goroutines queue; the next round takes the whole queue and applies it as
// one Batch, so 1,000 goroutines each recording one host pay for a handful
// of transactions (and fsyncs) instead of 1,000. There are no timers: a
// write that finds the backend idle goes in at once, alone.
//
// Every caller gets its own result: when a combined round fails because of
// one record (*RecordError), each caller's writes are retried on their own
// so that one caller's bad record does not fail the others. Any other
// failure (the file is busy, the disk is full) is every caller's result,
// without retries that would only fail again.
//
// A round is one backend call, so concurrent writes coalesced into one
// round bump an environment's serial once between them; serials stay
// monotonic, which is what a saved plan checks.
//
// Reads, locks and reservations pass straight through.
type Batcher struct {
	Store
	w Writer // nil when the backend has no Apply

	mu      sync.Mutex
	queue   []*batchOp
	leading bool // a goroutine is running rounds
}

type batchOp struct {
	ctx context.Context
	b   Batch
	// done receives the op's result, or nil-error with lead set when the
	// goroutine is to run the next round itself.
	done chan batchResult
}

type batchResult struct {
	err  error
	lead bool
}

var _ Store = (*Batcher)(nil)
var _ Writer = (*Batcher)(nil)

// NewBatcher wraps s.
func NewBatcher(s Store) *Batcher {
	w, _ := s.(Writer)
	return &Batcher{Store: s, w: w}
}

// Put queues hosts for the next round and waits for its result.
func (b *Batcher) Put(ctx context.Context, hosts ...Host) error {
	if len(hosts) == 0 {
		return nil
	}
	return b.Apply(ctx, Batch{Put: hosts})
}

// Delete queues ids for the next round and waits for its result.
func (b *Batcher) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return b.Apply(ctx, Batch{Delete: ids})
}

// PutIntents queues intents for the next round and waits for its result.
func (b *Batcher) PutIntents(ctx context.Context, intents ...Intent) error {
	if len(intents) == 0 {
		return nil
	}
	return b.Apply(ctx, Batch{PutIntents: intents})
}

// DeleteIntents queues intent ids for the next round and waits for its result.
func (b *Batcher) DeleteIntents(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return b.Apply(ctx, Batch{DeleteIntents: ids})
}

// Apply queues a mixed batch for the next round and waits for its result.
func (b *Batcher) Apply(ctx context.Context, batch Batch) error {
	if batch.Empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &batchOp{ctx: ctx, b: batch, done: make(chan batchResult, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, op)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()

	for {
		if lead {
			b.round(ctx)
			lead = false
		}
		// The op was either in the round just run (its result is buffered)
		// or is still queued and will be handed a result or the lead.
		r := <-op.done
		if !r.lead {
			return r.err
		}
		lead = true
	}
}

// round takes the whole queue, applies it, hands out results, and passes
// the lead to a queued op if more arrived meanwhile. The lead is passed
// rather than kept so that no caller waits on others' writes after its own
// result is ready.
func (b *Batcher) round(ctx context.Context) {
	b.mu.Lock()
	ops := b.queue
	b.queue = nil
	b.mu.Unlock()

	// A caller that gave up before its round is told so and left out; the
	// round itself must not die with one caller's context.
	live := ops[:0:0]
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.done <- batchResult{err: err}
			continue
		}
		live = append(live, op)
	}
	if len(live) > 0 {
		b.commit(context.WithoutCancel(ctx), live)
	}

	b.mu.Lock()
	if len(b.queue) == 0 {
		b.leading = false
		b.mu.Unlock()
		return
	}
	next := b.queue[0]
	b.mu.Unlock()
	next.done <- batchResult{lead: true}
}

func (b *Batcher) commit(ctx context.Context, ops []*batchOp) {
	if len(ops) == 1 {
		ops[0].done <- batchResult{err: b.apply(ctx, ops[0].b)}
		return
	}
	var all Batch
	for _, op := range ops {
		all.add(op.b)
	}
	err := b.apply(ctx, all)
	var rec *RecordError
	if !errors.As(err, &rec) {
		for _, op := range ops {
			op.done <- batchResult{err: err}
		}
		return
	}
	for _, op := range ops {
		op.done <- batchResult{err: b.apply(ctx, op.b)}
	}
}

// apply writes one batch through Writer when the backend has it, or
// through the single calls (one transaction per kind) when not.
func (b *Batcher) apply(ctx context.Context, batch Batch) error {
	if b.w != nil {
		return b.w.Apply(ctx, batch)
	}
	var errs []error
	if len(batch.Put) > 0 {
		errs = append(errs, b.Store.Put(ctx, batch.Put...))
	}
	if len(batch.Delete) > 0 {
		errs = append(errs, b.Store.Delete(ctx, batch.Delete...))
	}
	if len(batch.PutIntents) > 0 {
		errs = append(errs, b.Store.PutIntents(ctx, batch.PutIntents...))
	}
	if len(batch.DeleteIntents) > 0 {
		errs = append(errs, b.Store.DeleteIntents(ctx, batch.DeleteIntents...))
	}
	return errors.Join(errs...)
}
