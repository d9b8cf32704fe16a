package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool that spreads the heavy LLM kernels (Linear, Attention)
// over every core. The workers are started once per process and shared by all
// Memories; a call hands them one job and waits, so no goroutine is made per
// call or per row. Each worker owns a scratch buffer that grows to the largest
// size a kernel asked for and is reused afterwards.

// worker is one pool goroutine's private state.
type worker struct {
	scratch []float32
}

// floats returns n float32s of the worker's scratch (contents undefined).
func (w *worker) floats(n int) []float32 {
	if cap(w.scratch) < n {
		w.scratch = make([]float32, n)
	}
	return w.scratch[:n]
}

// job is one parallel loop: body runs on chunks [lo, hi) of [0, n), grain
// indices each, claimed by the workers in order.
type job struct {
	body     func(w *worker, lo, hi int)
	n, grain int
	next     atomic.Int64
	wg       sync.WaitGroup
}

// pool is the set of worker goroutines.
type pool struct {
	size int
	jobs chan *job
}

var (
	thePool  *pool
	poolOnce sync.Once
)

// workers returns the process's pool, starting GOMAXPROCS workers on first use.
func workers() *pool {
	poolOnce.Do(func() {
		p := &pool{size: runtime.GOMAXPROCS(0)}
		p.jobs = make(chan *job, 4*p.size)
		for range p.size {
			go p.serve(&worker{})
		}
		thePool = p
	})
	return thePool
}

// serve runs jobs until the process ends.
func (p *pool) serve(w *worker) {
	for j := range p.jobs {
		for {
			lo := int(j.next.Add(1)-1) * j.grain
			if lo >= j.n {
				break
			}
			j.body(w, lo, min(lo+j.grain, j.n))
		}
		j.wg.Done()
	}
}

// parallel runs body over [0, n) in chunks of grain (at least 1) and returns
// when every chunk is done. A loop of a single chunk runs on the caller.
func parallel(n, grain int, body func(w *worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	p := workers()
	if chunks == 1 || p.size == 1 {
		body(&worker{}, 0, n)
		return
	}
	j := &job{body: body, n: n, grain: grain}
	k := min(p.size, chunks)
	j.wg.Add(k)
	for range k {
		p.jobs <- j
	}
	j.wg.Wait()
}
