package bolt

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/labbroker/broker/state"
)

// parallelMin is the number of records below which decoding stays on one
// goroutine: starting workers costs more than it saves.
const parallelMin = 512

// decodeAll decodes raw JSON values in order. Large sets are split over
// the available CPUs: decoding, not reading the file, is what a Hosts of
// 10,000 records spends its time on.
func decodeAll[T any](raws [][]byte, dec func([]byte) (T, error)) ([]T, error) {
	out := make([]T, len(raws))
	decode := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			v, err := dec(raws[i])
			if err != nil {
				return fmt.Errorf("decode record %d: %w", i, err)
			}
			out[i] = v
		}
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	if len(raws) < parallelMin || workers < 2 {
		if err := decode(0, len(raws)); err != nil {
			return nil, err
		}
		return out, nil
	}
	chunk := (len(raws) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(raws))
		if lo >= hi {
			break
		}
		wg.Go(func() { errs[w] = decode(lo, hi) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeIntent(raw []byte) (state.Intent, error) {
	var v intentValue
	err := json.Unmarshal(raw, &v)
	return v.Intent, err
}
