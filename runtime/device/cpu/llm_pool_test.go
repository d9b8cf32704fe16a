package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkParallel runs parallel over [0, n) in chunks of grain and returns an
// error unless every index was visited exactly once, in chunks that start on
// a multiple of grain and hold at most grain indices.
func checkParallel(n, grain int) error {
	seen := make([]atomic.Int32, max(n, 0))
	var bad atomic.Value
	parallel(nil, n, grain, func(w *worker, lo, hi int) {
		if w == nil || lo < 0 || hi > n || lo >= hi || hi-lo > max(grain, 1) || lo%max(grain, 1) != 0 {
			bad.Store(fmt.Sprintf("chunk [%d, %d) of n=%d grain=%d", lo, hi, n, grain))
			return
		}
		_ = w.floats(hi - lo) // each worker's scratch is its own
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	if b := bad.Load(); b != nil {
		return fmt.Errorf("bad %s", b)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			return fmt.Errorf("n=%d grain=%d: index %d visited %d times", n, grain, i, c)
		}
	}
	return nil
}

func TestParallelVisitsEveryIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, grain int }{
		{0, 1}, {-3, 1}, {1, 1}, {5, 0}, {7, 8}, {8, 8}, {9, 8}, {1000, 7}, {4096, 64}, {100000, 1},
	} {
		if err := checkParallel(c.n, c.grain); err != nil {
			t.Fatal(err)
		}
	}
}

// Several guests may run ops at once: a call that finds the pool busy runs
// alone, and none may see another's chunks.
func TestParallelConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if err := checkParallel(64+17*g+i, 1+i%9); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Helpers that stopped spinning and blocked must wake for the next job.
func TestParallelAfterIdle(t *testing.T) {
	for range 4 {
		if err := checkParallel(256, 4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * helperSpin)
	}
}
