package tenants

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Stats count what a pool's scheduler did.
type Stats struct {
	// Batches are the executions of batches (of any size, one included).
	Batches uint64 `json:"batches"`
	// Steps are the program runs executed: the batches' sizes summed.
	Steps uint64 `json:"steps"`
	// Sizes counts batches by their number of runs.
	Sizes map[int]uint64 `json:"sizes"`
	// Alone counts the runs executed in a batch of one, by why: "alone"
	// (no other tenant was admitted), "program" (another waited with
	// another program than this run's), "wait" (the others were late:
	// MaxWait passed, or they had missed a batch before), "off" (batching
	// is off: Options.MaxWait < 0).
	Alone map[string]uint64 `json:"alone"`
	// TimedOut are the batches closed by MaxWait rather than because every
	// expected tenant had joined or MaxTenants had.
	TimedOut uint64 `json:"timed_out"`
	// Failed are the runs that ended in an error (their tenant trapped and
	// was closed); the others of their batch went on.
	Failed uint64 `json:"failed"`
	// RowCalls are the row-wise calls run once for several tenants, of
	// which HostCopies had their rows copied on the host (always on cpu;
	// on cuda managed memory the device copies them), and Apart those
	// that ran tenant by tenant instead, by why (llmabi.BatchStats).
	RowCalls   uint64            `json:"row_calls"`
	HostCopies uint64            `json:"host_copies"`
	Apart      map[string]uint64 `json:"apart"`
}

// scheduler gathers program runs into batches and executes them.
type scheduler struct {
	maxWait time.Duration
	maxRuns int

	mu      sync.Mutex
	tenants map[*Tenant]struct{}
	open    map[[32]byte]*batch // by program key
	busy    map[[32]byte]int    // batches closed but not yet executed, by program key
	ran     chan struct{}       // closed (and replaced) when a batch has executed
	st      Stats
	closed  bool

	exec  sync.Mutex // held by the executing batch: one at a time
	batch *llmabi.Batch
}

// run is one tenant's program run, waiting in a batch.
type run struct {
	t     *Tenant
	x     *llmabi.Exec
	size  uint64
	pos   int
	calls []llmabi.Call
	err   error
}

// batch is the runs of one program gathered to execute together.
type batch struct {
	key      [32]byte
	runs     []*run
	ready    chan struct{} // closed when the batch is full
	done     chan struct{} // closed once it has executed
	closed   bool          // no run joins any more
	timedOut bool
	alone    string // why a batch of one ran alone
}

func (s *scheduler) init(maxWait time.Duration, maxRuns int, b *llmabi.Batch) {
	s.maxWait, s.maxRuns, s.batch = maxWait, maxRuns, b
	s.tenants = map[*Tenant]struct{}{}
	s.open = map[[32]byte]*batch{}
	s.busy = map[[32]byte]int{}
	s.ran = make(chan struct{})
	s.st = Stats{Sizes: map[int]uint64{}, Alone: map[string]uint64{}, Apart: map[string]uint64{}}
}

// add registers t, unless the pool is full or closed.
func (s *scheduler) add(t *Tenant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("the pool is closed")
	case len(s.tenants) >= s.maxRuns:
		return fmt.Errorf("the pool holds %d tenants, its MaxTenants", len(s.tenants))
	}
	s.tenants[t] = struct{}{}
	return nil
}

// remove unregisters t; batches waiting for it close if now full.
func (s *scheduler) remove(t *Tenant) {
	s.mu.Lock()
	delete(s.tenants, t)
	t.gone = true
	s.recheckLocked()
	s.mu.Unlock()
}

// all returns the tenants registered now.
func (s *scheduler) all() []*Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]*Tenant, 0, len(s.tenants))
	for t := range s.tenants {
		ts = append(ts, t)
	}
	return ts
}

// expectedLocked reports whether t is expected to join b: it is in the
// pool and admitted (Admit or Restore has returned it), it is not waiting
// in an open batch, the last program it ran (if any) is b's, and it has
// not missed a batch since it last joined one (a tenant that stops
// decoding without being closed costs one batch MaxWait, not every batch).
// A tenant whose batch is executing is expected: it comes back for the
// next step.
func (s *scheduler) expectedLocked(t *Tenant, b *batch) bool {
	switch {
	case !t.ready || t.gone || t.straggler:
		return false
	case t.in != nil && !t.in.closed:
		return false
	}
	return !t.keyed || t.key == b.key
}

// admitted marks t ready to decode: batches wait for it from now on.
func (s *scheduler) admitted(t *Tenant) {
	s.mu.Lock()
	t.ready = true
	s.mu.Unlock()
}

// fullLocked reports whether b should close now.
func (s *scheduler) fullLocked(b *batch) bool {
	if len(b.runs) >= s.maxRuns {
		return true
	}
	for t := range s.tenants {
		if s.expectedLocked(t, b) {
			return false
		}
	}
	return true
}

// closeLocked closes b to joiners and wakes its leader.
func (s *scheduler) closeLocked(b *batch) {
	if b.closed {
		return
	}
	b.closed = true
	delete(s.open, b.key)
	s.busy[b.key]++
	close(b.ready)
}

// recheckLocked closes every open batch that is full now.
func (s *scheduler) recheckLocked() {
	for _, b := range s.open {
		if s.fullLocked(b) {
			s.closeLocked(b)
		}
	}
}

// submit runs r in a batch of r's program and returns r's error once the
// batch has executed. It is called inside r's tenant's host call.
func (s *scheduler) submit(r *run) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("the pool is closed")
	}
	key := r.x.Key()
	b := s.open[key]
	leader := b == nil
	if leader {
		b = &batch{key: key, ready: make(chan struct{}), done: make(chan struct{})}
		s.open[key] = b
	}
	b.runs = append(b.runs, r)
	r.t.in, r.t.straggler = b, false
	r.t.key, r.t.keyed = key, true
	if s.maxWait < 0 || s.fullLocked(b) { // batching off, or nobody else to wait for
		s.closeLocked(b)
	}
	s.mu.Unlock()
	if !leader {
		<-b.done
		return r.err
	}
	s.lead(b)
	s.execute(b)
	return r.err
}

// lead waits until b is closed: full, or MaxWait after its first run
// came. While a batch of b's program executes, the clock stops: its
// tenants come back for the next step (and b could not execute before it
// anyway, batches executing one at a time), so b waits for that batch and
// then MaxWait again. A batch that times out marks the tenants it waited
// for in vain as stragglers.
func (s *scheduler) lead(b *batch) {
	for {
		s.mu.Lock()
		if b.closed {
			break
		}
		s.mu.Unlock()
		timer := time.NewTimer(s.maxWait)
		select {
		case <-b.ready:
		case <-timer.C:
		}
		timer.Stop()
		s.mu.Lock()
		if b.closed {
			break
		}
		if s.busy[b.key] > 0 {
			ran := s.ran
			s.mu.Unlock()
			select {
			case <-b.ready:
			case <-ran:
			}
			continue
		}
		b.timedOut = true
		s.closeLocked(b)
		for t := range s.tenants {
			if t.in == nil && s.expectedLocked(t, b) {
				t.straggler = true // it missed this batch: do not wait for it again until it joins one
			}
		}
		break
	}
	if len(b.runs) == 1 {
		b.alone = s.whyAloneLocked(b.runs[0].t)
		if s.maxWait < 0 {
			b.alone = "off"
		}
	}
	s.mu.Unlock()
}

// whyAloneLocked says why t's run is executing alone: "alone" if no
// other tenant of the pool is admitted, "program" if another waits in an
// open batch of another program, "wait" otherwise (the others were late).
func (s *scheduler) whyAloneLocked(t *Tenant) string {
	why := "alone"
	for u := range s.tenants {
		if u == t || !u.ready || u.gone {
			continue
		}
		if u.in != nil && !u.in.closed && u.in.key != t.key {
			return "program"
		}
		why = "wait"
	}
	return why
}

// execute runs b's runs, one batched execution at a time, sets each run's
// error and releases the waiting host calls.
func (s *scheduler) execute(b *batch) {
	s.exec.Lock()
	if len(b.runs) == 1 {
		r := b.runs[0]
		r.err = guard(func() error { return r.x.Run(r.size, r.pos) })
	} else {
		members := make([]llmabi.Member, len(b.runs))
		errs := make([]error, len(b.runs))
		for k, r := range b.runs {
			members[k] = llmabi.Member{Mem: r.t.g.Memory(), Calls: r.calls}
		}
		if err := guard(func() error { s.batch.Run(members, errs); return nil }); err != nil {
			for k := range errs {
				if errs[k] == nil {
					errs[k] = err
				}
			}
		}
		for k, r := range b.runs {
			r.err = errs[k]
		}
	}
	bs := s.batch.Stats()
	s.exec.Unlock()

	s.mu.Lock()
	s.st.Batches++
	s.st.Steps += uint64(len(b.runs))
	s.st.Sizes[len(b.runs)]++
	if b.alone != "" {
		s.st.Alone[b.alone]++
	}
	if b.timedOut {
		s.st.TimedOut++
	}
	for _, r := range b.runs {
		r.t.in = nil
		if r.err != nil {
			s.st.Failed++
		}
	}
	s.st.RowCalls, s.st.HostCopies, s.st.Apart = bs.RowCalls, bs.HostCopies, bs.Apart
	if s.busy[b.key]--; s.busy[b.key] == 0 {
		delete(s.busy, b.key)
	}
	close(s.ran)
	s.ran = make(chan struct{})
	s.recheckLocked() // its tenants are no longer expected by batches of other programs
	s.mu.Unlock()
	close(b.done)
}

// stats returns a copy of the counts.
func (s *scheduler) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Sizes, st.Alone, st.Apart = map[int]uint64{}, map[string]uint64{}, map[string]uint64{}
	for k, v := range s.st.Sizes {
		st.Sizes[k] = v
	}
	for k, v := range s.st.Alone {
		st.Alone[k] = v
	}
	for k, v := range s.st.Apart {
		st.Apart[k] = v
	}
	return st
}

// guard runs f with faults of the kernels (a weights mapping whose file
// shrank) and their panics turned into an error, as a guest's own host
// calls get them: a batch never takes the process, or its other members'
// host calls, down with it.
func guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch: %w", device.Recovered(r))
		}
	}()
	return f()
}
