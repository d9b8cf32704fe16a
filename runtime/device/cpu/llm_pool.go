package cpu

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The worker pool that spreads the heavy LLM kernels (Linear, Attention)
// over every core. The helpers are started once per process and shared by all
// Memories; a call publishes one job, works on it itself with the helpers, and
// returns when every chunk is done, so no goroutine is made per call or per
// row. Each worker owns a scratch buffer that grows to the largest size a
// kernel asked for, up to maxKeptScratch, and is reused afterwards.
//
// A loop belongs to one Memory's kernel and carries that Memory's stopper
// (device.KernelLimits: its stop flag and the call's deadline): once it
// stops, no worker claims another chunk,
// the chunks already running finish, and the caller panics with
// device.ErrStopped. A chunk that panics (a fault reading a weights mapping
// whose file shrank: every worker runs with debug.SetPanicOnFault) ends the
// loop the same way, and the caller re-panics with the fault, so a helper's
// fault reaches the kernel's caller instead of killing the process.
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

// maxKeptScratch is the most float32s (256 KiB) a worker keeps between
// calls. The kernels ask for constant or weight-sized scratch (attention's
// tile, a GEMV chunk's rows), well below it; a larger request is served but
// not kept, so no call can leave the process holding more.
const maxKeptScratch = 64 << 10

// worker is one pool goroutine's private state.
type worker struct {
	scratch []float32
}

// floats returns n float32s of the worker's scratch (contents undefined).
func (w *worker) floats(n int) []float32 {
	if n > maxKeptScratch {
		return make([]float32, n)
	}
	if cap(w.scratch) < n {
		w.scratch = make([]float32, n)
	}
	return w.scratch[:n]
}

// job is one parallel loop: body runs on chunks [lo, hi) of [0, n), grain
// indices each, claimed by the workers in order. finished is closed by
// whichever worker completes the last chunk. Once stop is set or a chunk
// has panicked, the remaining chunks are counted done without running.
type job struct {
	body     func(w *worker, lo, hi int)
	stop     *stopper
	n, grain int
	chunks   int64
	next     atomic.Int64 // the next chunk to claim
	done     atomic.Int64 // chunks completed
	panicked atomic.Pointer[any]
	finished chan struct{}
}

// work claims and runs chunks of j until none are left.
func (j *job) work(w *worker) {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		j.run(w, c)
		if j.done.Add(1) == j.chunks {
			close(j.finished)
		}
	}
}

// run runs chunk c unless the job is over; a panic ends the job.
func (j *job) run(w *worker, c int64) {
	if j.panicked.Load() != nil || j.stop.stopped() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			j.panicked.CompareAndSwap(nil, &r)
		}
	}()
	lo := int(c) * j.grain
	j.body(w, lo, min(lo+j.grain, j.n))
}

// end panics, on the caller's goroutine once every chunk is done, with the
// first chunk's panic (a memory fault as a *device.MemoryFault) or, if the
// loop was stopped, device.ErrStopped.
func (j *job) end() {
	if r := j.panicked.Load(); r != nil {
		if f, ok := device.Recovered(*r).(*device.MemoryFault); ok {
			panic(f)
		}
		panic(*r)
	}
	if j.stop.stopped() {
		panic(device.ErrStopped)
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
// works on the current job. A fault in a chunk is a panic it recovers (see
// job.run), not the end of the process.
func (p *pool) help(w *worker) {
	debug.SetPanicOnFault(true)
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
//
// stop is the calling Memory's stopper (nil: none): a loop that finds it
// stopped ends early and panics with device.ErrStopped, as it does with the panic
// of any chunk (see the pool's doc). The caller's goroutine runs with
// debug.SetPanicOnFault for the loop's duration, as the helpers always do.
func parallel(stop *stopper, n, grain int, body func(w *worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	if stop.stopped() {
		panic(device.ErrStopped)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	p := workers()
	if chunks == 1 || p.size == 1 || !p.busy.TryLock() {
		w := &worker{}
		for lo := 0; lo < n; lo += grain {
			if stop.stopped() {
				panic(device.ErrStopped)
			}
			body(w, lo, min(lo+grain, n))
		}
		return
	}
	defer p.busy.Unlock()
	j := &job{body: body, stop: stop, n: n, grain: grain, chunks: int64(chunks), finished: make(chan struct{})}
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
	j.end()
}
