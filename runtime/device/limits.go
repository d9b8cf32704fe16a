package device

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Limiter is implemented by a Memory whose host-side work a sandbox can
// bound and cut short (the cpu device's: its kernels run on host cores and
// allocate host memory). The Wasm runtime calls SetLimits once per guest,
// before the guest runs. A Memory without it is bounded only between kernel
// calls: a GPU kernel, once launched, runs to its end.
type Limiter interface {
	SetLimits(KernelLimits)
}

// KernelLimits bound what one Memory's kernels may take from the host.
//
// A kernel stopped by Stop or refused by MaxScratch does not return: it
// panics with a *KernelStop (after every core it used has left the memory),
// because an LLMOps method has no way to say "stopped" that its callers
// would not take for a result. The sandbox that set the limits recovers the
// panic (runtime/wasm traps the guest); the Memory's contents are then
// undefined and the sandbox discards it.
type KernelLimits struct {
	// Stop, once true, ends the Memory's running kernel at its next chunk
	// boundary and every later one at its start. Nil never stops.
	Stop *atomic.Bool
	// Deadline, while it holds a nonzero time (Unix nanoseconds) that has
	// passed, stops the kernels as Stop does, and sets Stop. The sandbox
	// sets it for each call: a kernel then ends at its deadline by its own
	// clock, not when a timer goroutine gets a core to set Stop (under load,
	// tens of milliseconds later). Nil: none.
	Deadline *atomic.Int64
	// MaxScratch is the most host bytes the Memory may hold for its kernels
	// beyond the linear memory itself (copy mode's staging buffers); 0 means
	// no limit. The scratch is released when the Memory is closed.
	MaxScratch uint64
}

// KernelStop is the panic value of a kernel cut short by its KernelLimits.
type KernelStop struct {
	// Limit is "Stop" or "MaxScratch".
	Limit string
	Msg   string
}

func (e *KernelStop) Error() string { return fmt.Sprintf("kernel stopped (%s): %s", e.Limit, e.Msg) }

// ErrStopped is the KernelStop of a kernel ended by KernelLimits.Stop.
var ErrStopped = &KernelStop{Limit: "Stop", Msg: "the guest is being stopped"}

// MemoryFault is a kernel's memory access that faulted: with
// runtime/debug.SetPanicOnFault on, a read of a file mapping whose file
// shrank (a model.safetensors truncated while its weights are in use) is a
// panic, not the death of the process, and the kernel's callers see this.
type MemoryFault struct {
	Addr uintptr
	Err  error // the runtime's error
}

func (e *MemoryFault) Error() string {
	return fmt.Sprintf("memory fault at %#x in a kernel (a mapped weights file truncated or changed while in use?): %v", e.Addr, e.Err)
}

func (e *MemoryFault) Unwrap() error { return e.Err }

// Recovered turns the value of a panic recovered around kernel calls into
// an error: a *KernelStop or *MemoryFault as it is, a runtime fault at an
// address as a *MemoryFault, anything else as an error naming the value.
func Recovered(r any) error {
	switch v := r.(type) {
	case *KernelStop:
		return v
	case *MemoryFault:
		return v
	case runtime.Error:
		if a, ok := v.(interface{ Addr() uintptr }); ok {
			return &MemoryFault{Addr: a.Addr(), Err: v}
		}
		return fmt.Errorf("internal error: %w", v)
	case error:
		return fmt.Errorf("internal error: %w", v)
	}
	return fmt.Errorf("internal error: %v", r)
}

// IsStop reports whether err is, or wraps, a *KernelStop.
func IsStop(err error) bool {
	var ks *KernelStop
	return errors.As(err, &ks)
}
