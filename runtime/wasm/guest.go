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
	"github.com/wasmgpu/wasmgpu/runtime/device"
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

	limits   Limits
	deadline time.Time // the session's end; zero: none

	callMu   sync.Mutex  // held by the running call, and by Close to wait for it
	stop     atomic.Bool // set once, never cleared: see stopping
	cancel   atomic.Pointer[context.CancelCauseFunc]
	closed   bool // guarded by callMu
	closeErr error

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
	g := &Guest{mem: mem, linear: &linearMemory{mem: mem}, limits: r.limits}
	if r.limits.SessionTimeout > 0 {
		g.deadline = time.Now().Add(r.limits.SessionTimeout)
	}
	if l, ok := mem.(device.Limiter); ok {
		scratch := r.limits.MaxScratch
		if scratch == math.MaxUint64 {
			scratch = 0 // the device's "no limit"
		}
		l.SetLimits(device.KernelLimits{Stop: &g.stop, MaxScratch: scratch})
	}
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(_, _ uint64) experimental.LinearMemory { return g.linear }))
	ictx = context.WithValue(ictx, guestKey{}, g)
	name := fmt.Sprintf("guest-%d", instanceSeq.Add(1))
	g.callMu.Lock()
	defer g.callMu.Unlock()
	cctx, end, err := g.begin(ictx)
	if err == nil {
		g.mod, err = r.rt.InstantiateModule(cctx, r.compiled,
			wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize").
				WithStdout(orDiscard(r.cfg.Stdout)).WithStderr(orDiscard(r.cfg.Stderr)))
		err = end(err)
	}
	if err != nil {
		// wazero does not always call Free when instantiation fails.
		g.closeLocked(ctx)
		return nil, fmt.Errorf("instantiate guest: %w", err)
	}
	return g, nil
}

// Call calls the guest's exported function name and returns its results. A
// trap (including a host ABI bounds violation) comes back as an error. A
// call stopped by a deadline, a cancellation or Close closes the guest and
// returns why (see Limits).
func (g *Guest) Call(ctx context.Context, name string, args ...uint64) ([]uint64, error) {
	g.callMu.Lock()
	defer g.callMu.Unlock()
	if g.closed || g.mod == nil || g.mod.IsClosed() {
		return nil, fmt.Errorf("call %s: %w", name, ErrClosed)
	}
	// ExportedFunction makes a new call engine (with its own stack) every
	// time: keep one per export, or every call pays microseconds for it.
	f, ok := g.funcs[name]
	if !ok {
		f = g.mod.ExportedFunction(name)
		if f == nil {
			return nil, fmt.Errorf("call %s: guest exports no such function", name)
		}
		if g.funcs == nil {
			g.funcs = map[string]api.Function{}
		}
		g.funcs[name] = f
	}
	cctx, end, err := g.begin(context.WithValue(ctx, guestKey{}, g))
	var res []uint64
	if err == nil {
		res, err = f.Call(cctx, args...)
		err = end(err)
	}
	if g.stop.Load() {
		g.closeLocked(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	return res, nil
}

// begin returns the context of one call into the guest: ctx with the
// earlier of the call's and the session's deadline, cancelled by Close. When
// it ends before the call does, the guest is stopping (see stopping). end,
// called with the call's error when the call returns, releases the context
// and returns the call's error, or the reason it was stopped.
func (g *Guest) begin(ctx context.Context) (context.Context, func(error) error, error) {
	now := time.Now()
	var deadline time.Time
	var limit *LimitError
	if d := g.limits.CallTimeout; d > 0 {
		deadline = now.Add(d)
		limit = &LimitError{Limit: "CallTimeout", Msg: fmt.Sprintf("the call ran for %v", d), Err: context.DeadlineExceeded}
	}
	if !g.deadline.IsZero() && (deadline.IsZero() || g.deadline.Before(deadline)) {
		deadline = g.deadline
		limit = &LimitError{Limit: "SessionTimeout", Msg: fmt.Sprintf("the guest's session of %v is over", g.limits.SessionTimeout), Err: context.DeadlineExceeded}
	}
	if limit != nil && !now.Before(deadline) {
		g.stop.Store(true)
		return nil, nil, limit
	}
	cctx, cancel := context.WithCancelCause(ctx)
	timed, cancelTimer := cctx, context.CancelFunc(func() {})
	if limit != nil {
		timed, cancelTimer = context.WithDeadlineCause(cctx, deadline, limit)
	}
	// Close stores stop, then loads cancel; this stores cancel, then loads
	// stop: one of the two sees the other.
	g.cancel.Store(&cancel)
	unwatch := context.AfterFunc(timed, func() { g.stop.Store(true) })
	if g.stop.Load() {
		cancel(ErrClosed)
	}
	end := func(err error) error {
		g.cancel.Store(nil)
		if !unwatch() { // the context ended first: the guest was stopped
			err = context.Cause(timed)
		}
		cancelTimer()
		cancel(nil)
		return err
	}
	return timed, end, nil
}

// stopping reports whether the guest is being stopped: its call's context
// ended (a limit, the caller's deadline or cancellation, Close). wazero then
// closes the module, which ends compiled loops at their next iteration;
// host calls trap at their start and end (abi.go), and the device's kernels
// end at their next chunk (device.KernelLimits.Stop is this flag).
func (g *Guest) stopping() bool { return g.stop.Load() }

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
// would) and waits for it to leave the memory before releasing it.
func (g *Guest) Close(ctx context.Context) error {
	g.stop.Store(true)
	if c := g.cancel.Load(); c != nil {
		(*c)(ErrClosed)
	}
	g.callMu.Lock()
	defer g.callMu.Unlock()
	return g.closeLocked(ctx)
}

// closeLocked closes the module, if wazero has not already, and releases the
// linear memory; callMu is held and no call runs.
func (g *Guest) closeLocked(ctx context.Context) error {
	if g.closed {
		return g.closeErr
	}
	g.closed = true
	g.stop.Store(true)
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
