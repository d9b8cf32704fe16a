package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool that spreads the heavy LLM kernels (Linear, Attention)
// over every core. The helpers are started once per process and shared by all
// Memories; a call publishes one job, works on it itself with the helpers, and
// returns when every chunk is done, so no goroutine is made per call or per
// row. Each worker owns a scratch buffer that grows to the largest size a
// kernel asked for and is reused afterwards.
//
// Helpers spin between jobs, for helperSpin after the last one, before they
// block. A decode step is about 80 parallel regions of 0.05–10 ms each with
// microseconds between them; when the workers instead blocked on a channel
// and the caller only waited, each region paid a goroutine wake-up (futex and
// scheduler latency, tens of microseconds on this project's 2-core VM) and
// ran on one core until the other woke. Interleaved A/B on that VM, 24 rounds
// of 5 tokens of Llama 3.2 1B: 66.4 ms/token (median) with the blocking pool,
// 62.6 with this one. ggml's thread pool spins between ops for the same
// reason.

// helperSpin is how long an idle helper polls for the next job before it
// blocks. A decode step's regions come far closer together than this, so a
// running model never pays a wake-up; an idle process stops burning the core
// within a millisecond.
const helperSpin = time.Millisecond

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
// indices each, claimed by the workers in order. finished is closed by
// whichever worker completes the last chunk.
type job struct {
	body     func(w *worker, lo, hi int)
	n, grain int
	chunks   int64
	next     atomic.Int64 // the next chunk to claim
	done     atomic.Int64 // chunks completed
	finished chan struct{}
}

// work claims and runs chunks of j until none are left.
func (j *job) work(w *worker) {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		lo := int(c) * j.grain
		j.body(w, lo, min(lo+j.grain, j.n))
		if j.done.Add(1) == j.chunks {
			close(j.finished)
		}
	}
}

// pool is the caller plus size-1 helper goroutines.
type pool struct {
	size   int
	busy   sync.Mutex // held by the caller whose job the helpers serve
	caller worker     // the scratch of whoever holds busy
	cur    atomic.Pointer[job]
	gen    atomic.Uint64 // bumped after cur is set: the helpers' signal
	sleep  sync.Mutex    // guards asleep; wake waits on it
	wake   *sync.Cond
	asleep int
}

var (
	thePool  *pool
	poolOnce sync.Once
)

// workers returns the process's pool, starting GOMAXPROCS-1 helpers on first
// use.
func workers() *pool {
	poolOnce.Do(func() {
		p := &pool{size: runtime.GOMAXPROCS(0)}
		p.wake = sync.NewCond(&p.sleep)
		for range p.size - 1 {
			go p.help(&worker{})
		}
		thePool = p
	})
	return thePool
}

// help serves jobs until the process ends: it waits for gen to move, then
// works on the current job.
func (p *pool) help(w *worker) {
	seen := p.gen.Load()
	for {
		idle := time.Now()
		for polls := 0; p.gen.Load() == seen; polls++ {
			if polls%64 != 63 {
				continue
			}
			if time.Since(idle) < helperSpin {
				runtime.Gosched()
				continue
			}
			p.sleep.Lock()
			for p.gen.Load() == seen {
				p.asleep++
				p.wake.Wait()
				p.asleep--
			}
			p.sleep.Unlock()
		}
		seen = p.gen.Load()
		if j := p.cur.Load(); j != nil {
			j.work(w)
		}
	}
}

// parallel runs body over [0, n) in chunks of grain (at least 1) and returns
// when every chunk is done. A loop of a single chunk, or one that arrives
// while another caller's loop holds the pool (another guest's), runs its
// chunks in order on the caller alone: the cores are busy anyway.
func parallel(n, grain int, body func(w *worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	p := workers()
	if chunks == 1 || p.size == 1 || !p.busy.TryLock() {
		w := &worker{}
		for lo := 0; lo < n; lo += grain {
			body(w, lo, min(lo+grain, n))
		}
		return
	}
	defer p.busy.Unlock()
	j := &job{body: body, n: n, grain: grain, chunks: int64(chunks), finished: make(chan struct{})}
	p.cur.Store(j)
	p.gen.Add(1)
	p.sleep.Lock()
	if p.asleep > 0 {
		p.wake.Broadcast()
	}
	p.sleep.Unlock()
	j.work(&p.caller)
	// The last chunks may still be running on helpers: poll briefly, as they
	// are short, then block.
	for polls := 0; j.done.Load() < j.chunks; polls++ {
		if polls == 1<<10 {
			<-j.finished
			break
		}
		runtime.Gosched()
	}
	p.cur.Store(nil)
}
