package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// CopyOptions control Copy.
type CopyOptions struct {
	// Force copies into a target that already holds host records or
	// intents; records and intents with the same id are overwritten.
	Force bool
	// Pools names pools whose reservations to copy, in addition to those
	// the source lists (all of them when it is a PoolLister).
	Pools []string
}

// CopyResult is what Copy did.
type CopyResult struct {
	// Environments is the number of environments in the source.
	Environments int
	// Hosts, Intents and Reservations count what was written; Values the
	// outputs and action results (when both stores keep values).
	Hosts, Intents, Reservations, Values int
	// PoolsListed is false when the source cannot list its pools: only the
	// pools named in CopyOptions.Pools were copied.
	PoolsListed bool
	// SerialsCopied is false when the target cannot set serials: it counts
	// its own writes, so plans saved against the source must be made again.
	SerialsCopied bool
	// IdentityCopied is true when the target took the source's identity
	// (state.IdentitySetter), so that what broker made under the source
	// is still this state's (its orphans, not foreign) in the target. A
	// target that already held records keeps its own identity.
	IdentityCopied bool
	// Kept are source reservations whose member the target had already
	// reserved; the target's reservation was left as it is.
	Kept []Reservation
}

// Reservation is one reserved pool member.
type Reservation struct {
	Pool, Member, Holder string
}

// NotEmptyError is returned by Copy when the target already holds records
// or intents and CopyOptions.Force is not set.
type NotEmptyError struct {
	// Target names the target for the message; Copy leaves it empty for
	// the caller, who knows the target's name, to fill in.
	Target         string
	Hosts, Intents int
}

func (e *NotEmptyError) Error() string {
	target := "the target"
	if e.Target != "" {
		target += " " + e.Target
	}
	return fmt.Sprintf("%s already holds %d host records and %d intents", target, e.Hosts, e.Intents)
}

// copyChunk bounds how many records one write carries.
const copyChunk = 500

// Copy copies src's host records, intents and pool reservations into dst,
// and, when dst is a SerialSetter, each environment's serial (never moving
// one of dst's serials back), and, when dst was empty and is an
// IdentitySetter, the state's identity. src is only read. Copy takes no locks: run it
// while nothing writes either store.
func Copy(ctx context.Context, dst, src Store, opts CopyOptions) (CopyResult, error) {
	var res CopyResult
	dstHosts, err := dst.Hosts(ctx, Query{})
	if err != nil {
		return res, err
	}
	dstIntents, err := dst.Intents(ctx, "")
	if err != nil {
		return res, err
	}
	dstEmpty := len(dstHosts) == 0 && len(dstIntents) == 0
	if !dstEmpty && !opts.Force {
		return res, &NotEmptyError{Hosts: len(dstHosts), Intents: len(dstIntents)}
	}

	envs, err := src.Environments(ctx)
	if err != nil {
		return res, err
	}
	res.Environments = len(envs)
	hosts, err := src.Hosts(ctx, Query{})
	if err != nil {
		return res, err
	}
	intents, err := src.Intents(ctx, "")
	if err != nil {
		return res, err
	}
	for i := 0; i < len(hosts); i += copyChunk {
		if err := dst.Put(ctx, hosts[i:min(i+copyChunk, len(hosts))]...); err != nil {
			return res, fmt.Errorf("copy host records: %w", err)
		}
	}
	res.Hosts = len(hosts)
	for i := 0; i < len(intents); i += copyChunk {
		if err := dst.PutIntents(ctx, intents[i:min(i+copyChunk, len(intents))]...); err != nil {
			return res, fmt.Errorf("copy intents: %w", err)
		}
	}
	res.Intents = len(intents)

	svs, ok1 := src.(ValueStore)
	dvs, ok2 := dst.(ValueStore)
	if ok1 && ok2 {
		for _, env := range envs {
			vals, err := svs.Values(ctx, env, "")
			if err != nil {
				return res, err
			}
			if err := dvs.PutValues(ctx, vals...); err != nil {
				return res, fmt.Errorf("copy values: %w", err)
			}
			res.Values += len(vals)
		}
	}

	pools := opts.Pools
	if pl, ok := src.(PoolLister); ok {
		all, err := pl.Pools(ctx)
		if err != nil {
			return res, err
		}
		pools = append(pools[:len(pools):len(pools)], all...)
		res.PoolsListed = true
	}
	done := map[string]bool{}
	for _, pool := range pools {
		if done[pool] {
			continue
		}
		done[pool] = true
		taken, err := src.Reservations(ctx, pool)
		if err != nil {
			return res, err
		}
		for _, member := range slices.Sorted(maps.Keys(taken)) {
			holder := taken[member]
			_, err := dst.Reserve(ctx, pool, []string{member}, holder)
			if errors.Is(err, ErrPoolExhausted) {
				res.Kept = append(res.Kept, Reservation{Pool: pool, Member: member, Holder: holder})
				continue
			}
			if err != nil {
				return res, fmt.Errorf("copy reservation of %q in pool %q: %w", member, pool, err)
			}
			res.Reservations++
		}
	}

	if ss, ok := dst.(SerialSetter); ok {
		for _, env := range envs {
			n, err := src.Serial(ctx, env)
			if err != nil {
				return res, err
			}
			cur, err := dst.Serial(ctx, env)
			if err != nil {
				return res, err
			}
			if err := ss.SetSerial(ctx, env, max(n, cur)); err != nil {
				return res, err
			}
		}
		res.SerialsCopied = true
	}

	sid, ok1 := src.(Identifier)
	did, ok2 := dst.(IdentitySetter)
	if ok1 && ok2 && dstEmpty {
		id, err := sid.Identity(ctx)
		if err != nil {
			return res, err
		}
		if err := did.SetIdentity(ctx, id); err != nil {
			return res, err
		}
		res.IdentityCopied = true
	}
	return res, nil
}
