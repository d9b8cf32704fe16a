package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Guest is one instance of the guest module with its own linear memory on a
// device, bounded by its runtime's Limits. A Guest is not safe for
// concurrent calls, with one exception: Close may be called from another
// goroutine to stop a call that is running.
type Guest struct {
	mod    api.Module
	mem    device.Memory
	linear *linearMemory
	// Last is the report of the most recent kernel the guest called.
	Last device.KernelReport
	// Calls counts host ABI calls made by this guest.
	Calls uint64
	// Weights are the model weights the guest's llm_* kernels read (see
	// llm_abi.go): host resources, loaded once per device and shareable by
	// many guests. Set them before the guest runs its engine.
	Weights device.Weights
	// RunProgram, if set, runs the guest's program runs (llm_program_run)
	// instead of x.Run(g.Size(), pos): a host that runs many guests hands
	// them to a batcher here (runtime/tenants). It is called on the guest's
	// own call, inside the host call, with the program validated against
	// this guest's memory and weights; it must run x's calls at pos on this
	// guest's memory (llmabi.Exec.Bind validates them at pos) and return
	// once their results are in place. Its error traps the guest as a run's
	// own error would. Set it before the guest runs its engine; nil (the
	// default) runs each program alone, at no extra cost.
	RunProgram func(g *Guest, x *llmabi.Exec, pos int) error

	limits       Limits
	sessionEnd   time.Time
	callLimit    *LimitError // the error of each timeout, nil if none
	sessionLimit *LimitError

	callMu   sync.Mutex  // held by the running call, and by Close to wait for it
	stop     atomic.Bool // set once, never cleared: see halt
	why      atomic.Pointer[error]
	deadline atomic.Int64 // the running call's end, Unix ns (0: none), for the kernels
	// timer enforces the running call's deadline (one timer per guest,
	// armed per call: a context with a deadline per call cost microseconds).
	timer      *time.Timer
	timerLimit atomic.Pointer[LimitError] // the limit the armed timer enforces
	fired      chan struct{}              // the timer's function has finished
	closed     bool                       // guarded by callMu
	closeErr   error

	programs map[uint32]*llmabi.Exec // the guest's programs by handle (llm_program.go)

	funcs  map[string]api.Function // exports called so far
	caller api.Module              // the instance in the host call now running
	fn     string                  // the host function now running, for traps
}

// ErrClosed is the error of a call into a guest that is closed, or that was
// closed while the call ran.
var ErrClosed = errors.New("guest is closed")

var instanceSeq atomic.Uint64

type guestKey struct{}

// Instantiate makes a new guest whose linear memory is made by newMemory
// (usually a device's NewMemory in some mode) with the runtime's memory limit,
// and runs the guest's _initialize within the CallTimeout.
func (r *Runtime) Instantiate(ctx context.Context, newMemory func(max uint64) (device.Memory, error)) (*Guest, error) {
	mem, err := newMemory(r.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("instantiate guest: linear memory: %w", err)
	}
	if uint64(len(mem.Bytes())) < r.maxBytes {
		mem.Close()
		return nil, fmt.Errorf("instantiate guest: linear memory of %d bytes is smaller than the limit %d", len(mem.Bytes()), r.maxBytes)
	}
	g := &Guest{mem: mem, limits: r.limits, fired: make(chan struct{}, 1)}
	g.linear = &linearMemory{mem: mem, beforeClose: g.releasePrograms}
	if t := r.limits.CallTimeout; t > 0 {
		g.callLimit = &LimitError{Limit: "CallTimeout", Msg: fmt.Sprintf("the call ran for %v", t), Err: context.DeadlineExceeded}
	}
	if t := r.limits.SessionTimeout; t > 0 {
		g.sessionEnd = time.Now().Add(t)
		g.sessionLimit = &LimitError{Limit: "SessionTimeout", Msg: fmt.Sprintf("the guest's session of %v is over", t), Err: context.DeadlineExceeded}
	}
	if l, ok := mem.(device.Limiter); ok {
		scratch := r.limits.MaxScratch
		if scratch == math.MaxUint64 {
			scratch = 0 // the device's "no limit"
		}
		l.SetLimits(device.KernelLimits{Stop: &g.stop, Deadline: &g.deadline, MaxScratch: scratch})
	}
	g.timer = time.AfterFunc(time.Hour, g.deadlinePassed)
	g.timer.Stop()
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(_, _ uint64) experimental.LinearMemory { return g.linear }))
	ictx = context.WithValue(ictx, guestKey{}, g)
	// The module does not exist before InstantiateModule returns, so the
	// deadline of its _initialize is a context's, which wazero watches.
	if limit := g.nextLimit(); limit.err != nil {
		var cancel context.CancelFunc
		ictx, cancel = context.WithDeadlineCause(ictx, time.Now().Add(limit.after), limit.err)
		defer cancel()
	}
	name := fmt.Sprintf("guest-%d", instanceSeq.Add(1))
	g.callMu.Lock()
	defer g.callMu.Unlock()
	g.linear.enter()
	g.mod, err = r.rt.InstantiateModule(ictx, r.compiled,
		wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize").
			WithStdout(orDiscard(r.cfg.Stdout)).WithStderr(orDiscard(r.cfg.Stderr)))
	g.linear.exit()
	if err != nil {
		if ictx.Err() != nil {
			err = context.Cause(ictx)
		}
		// wazero does not always call Free when instantiation fails.
		g.closeLocked(ctx)
		return nil, fmt.Errorf("instantiate guest: %w", err)
	}
	return g, nil
}

// Call calls the guest's exported function name and returns its results. A
// trap (including a host ABI bounds violation) comes back as an error. A
// call stopped by a limit, by its context's end or by Close closes the guest
// and returns why: a *LimitError, the context's cause, or ErrClosed.
func (g *Guest) Call(ctx context.Context, name string, args ...uint64) ([]uint64, error) {
	g.callMu.Lock()
	defer g.callMu.Unlock()
	if g.closed || g.mod == nil || g.mod.IsClosed() {
		return nil, fmt.Errorf("call %s: %w", name, g.closedErr())
	}
	f, err := g.export(name)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	res, err := g.run(ctx, f, args)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	return res, nil
}

// run calls f within the guest's limits. wazero, compiled with
// WithCloseOnContextDone, stops the guest's code when its module is closed
// (a limit's timer, Close) or the call's context ends; host calls and the
// device's kernels see the stop flag. A stopped guest is closed here.
func (g *Guest) run(ctx context.Context, f api.Function, args []uint64) ([]uint64, error) {
	limit := g.nextLimit()
	if limit.err != nil && limit.after <= 0 {
		g.halt(limit.err, sys.ExitCodeDeadlineExceeded)
	}
	if g.stop.Load() {
		g.closeLocked(ctx)
		return nil, g.stopErr()
	}
	// The kernels cannot see a context: turn the end of a cancellable one
	// into the stop flag they poll.
	var unwatch func() bool
	if ctx.Done() != nil {
		unwatch = context.AfterFunc(ctx, func() { g.stopWith(context.Cause(ctx)) })
	}
	// The kernels also check the earliest deadline by their own clock.
	var end time.Time
	var endErr error
	if limit.err != nil {
		g.timerLimit.Store(limit.err)
		g.timer.Reset(limit.after)
		end, endErr = time.Now().Add(limit.after), limit.err
	}
	if d, ok := ctx.Deadline(); ok && (end.IsZero() || d.Before(end)) {
		end, endErr = d, context.DeadlineExceeded
	}
	if !end.IsZero() {
		g.deadline.Store(end.UnixNano())
	}
	g.linear.enter()
	res, err := f.Call(context.WithValue(ctx, guestKey{}, g), args...)
	g.linear.exit()
	g.deadline.Store(0)
	if limit.err != nil && !g.timer.Stop() {
		<-g.fired // the deadline passed: wait until it has stopped the guest
	}
	if unwatch != nil {
		unwatch()
	}
	if err != nil && ctx.Err() != nil {
		g.stopWith(context.Cause(ctx)) // wazero saw the end first
	}
	if g.stop.Load() {
		if endErr != nil {
			g.stopWith(endErr) // a kernel saw the deadline first (a no-op if a reason is in)
		}
		g.closeLocked(ctx)
		return nil, g.stopErr()
	}
	return res, err
}

// deadline is when, and for which limit, a call starting now must end.
type deadline struct {
	after time.Duration
	err   *LimitError // nil: no limit
}

// nextLimit returns the deadline of a call starting now: the earlier of the
// call's and the session's end.
func (g *Guest) nextLimit() deadline {
	var d deadline
	if g.callLimit != nil {
		d = deadline{g.limits.CallTimeout, g.callLimit}
	}
	if g.sessionLimit != nil {
		if left := time.Until(g.sessionEnd); d.err == nil || left < d.after {
			d = deadline{left, g.sessionLimit}
		}
	}
	return d
}

// deadlinePassed is the timer's function: it stops the running call.
func (g *Guest) deadlinePassed() {
	g.halt(g.timerLimit.Load(), sys.ExitCodeDeadlineExceeded)
	g.fired <- struct{}{}
}

// halt stops the guest for why: it sets the stop flag (host calls trap at
// their start and end, the device's kernels end at their next chunk) and
// closes the module, which ends compiled loops at their next iteration. The
// linear memory is released only when the running call has left it (see
// linearMemory).
func (g *Guest) halt(why error, exitCode uint32) {
	g.stopWith(why)
	if g.mod != nil {
		g.mod.CloseWithExitCode(context.Background(), exitCode)
	}
}

// stopWith sets the stop flag, recording why if it is the first reason.
func (g *Guest) stopWith(why error) {
	g.why.CompareAndSwap(nil, &why)
	g.stop.Store(true)
}

// stopErr is what stopped the guest (see halt), or ErrClosed.
func (g *Guest) stopErr() error {
	if why := g.why.Load(); why != nil {
		return *why
	}
	return ErrClosed
}

// closedErr is the error of a call into the closed guest: ErrClosed, with
// what stopped it if it was not Close.
func (g *Guest) closedErr() error {
	if why := g.stopErr(); why != ErrClosed {
		return fmt.Errorf("%w (stopped: %v)", ErrClosed, why)
	}
	return ErrClosed
}

// stopping reports whether the guest is being stopped (see halt), or its
// module mod closed (by wazero, when the call's context ended).
func (g *Guest) stopping(mod api.Module) bool { return g.stop.Load() || mod.IsClosed() }

// Memory is the device memory backing the guest's linear memory.
func (g *Guest) Memory() device.Memory { return g.mem }

// Size is the guest's current linear memory size in bytes: 0 for a module
// without memory or a closed guest, up to 4 GiB.
func (g *Guest) Size() uint64 { return g.linear.size() }

// Base is the host address of linear memory offset 0, as wazero sees it,
// or 0 when the guest has no memory.
func (g *Guest) Base() uintptr {
	if len(g.linear.buf) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&g.linear.buf[0]))
}

// Read returns a view (no copy) of n bytes at off, or false if out of range.
func (g *Guest) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > g.linear.size() {
		return nil, false
	}
	return g.linear.buf[off : off+n : off+n], true
}

// write copies b into the guest's memory at off, or returns false if the
// range is outside it.
func (g *Guest) write(off uint32, b []byte) bool {
	dst, ok := g.Read(off, uint32(len(b)))
	if !ok || uint64(len(b)) > math.MaxUint32 {
		return false
	}
	copy(dst, b)
	return true
}

// Close closes the instance and releases its linear memory. Called from
// another goroutine while a call runs, it stops the call (as a deadline
// would; the call returns ErrClosed) and waits for it to leave the memory
// before releasing it.
func (g *Guest) Close(ctx context.Context) error {
	g.halt(ErrClosed, 0)
	g.callMu.Lock()
	defer g.callMu.Unlock()
	return g.closeLocked(ctx)
}

// closeLocked closes the module, if it is not already, and releases the
// linear memory; callMu is held and no call runs.
func (g *Guest) closeLocked(ctx context.Context) error {
	if g.closed {
		return g.closeErr
	}
	g.closed = true
	g.stopWith(ErrClosed)
	g.timer.Stop()
	var err error
	if g.mod != nil && !g.mod.IsClosed() {
		if err = g.mod.Close(ctx); err != nil {
			err = fmt.Errorf("close guest: %w", err)
		}
	}
	g.linear.Free()
	g.closeErr = errors.Join(err, g.linear.err)
	return g.closeErr
}

func guestFrom(ctx context.Context) *Guest {
	g, _ := ctx.Value(guestKey{}).(*Guest)
	return g
}
