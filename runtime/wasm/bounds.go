package wasm

import (
	"errors"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TrapError is the error a guest call returns when the guest handed the host
// ABI something it must not: a range outside its memory, overlapping outputs,
// sizes that disagree with the shapes, more work than its limits allow, or a
// request the device refused.
type TrapError struct {
	Func string // host function, e.g. "matmul"
	Msg  string
	// Err is the error behind the trap, if there is one: a *LimitError for
	// a refused kernel, or the device's error.
	Err error
}

func (e *TrapError) Error() string { return fmt.Sprintf("wasmgpu.%s: %s", e.Func, e.Msg) }

// Unwrap returns Err.
func (e *TrapError) Unwrap() error { return e.Err }

// Trap aborts the current host function and the guest call that made it,
// with a TrapError naming the function; the first error among args becomes
// its Err. It does not return.
func (g *Guest) Trap(format string, args ...any) {
	t := &TrapError{Func: g.fn, Msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			t.Err = err
			break
		}
	}
	panic(t)
}

// Span turns a guest (ptr, len) pair into a device.Span after checking, in
// 64-bit arithmetic, that the whole range lies inside the guest's current
// linear memory; otherwise it traps naming the operand and the range. The
// arguments are raw stack values so that nothing is truncated before the check.
func (g *Guest) Span(operand string, ptr, n uint64) device.Span {
	ptr, n = uint64(uint32(ptr)), uint64(uint32(n)) // i32 params arrive zero-extended
	size := g.Size()
	if end := ptr + n; end > size {
		g.Trap("%s range [%#x, %#x) is outside linear memory of %#x bytes", operand, ptr, end, size)
	}
	return device.Span{Off: ptr, Len: n}
}

// NoOverlap traps if an output span overlaps an input or another output.
func (g *Guest) NoOverlap(inputs, outputs []device.Span) {
	if err := device.CheckSpans(g.Size(), inputs, outputs); err != nil {
		g.Trap("%v", err)
	}
}

// limitTrap is the trap of a kernel call refused by the guest's limit.
func (g *Guest) limitTrap(limit, format string, args ...any) *TrapError {
	msg := fmt.Sprintf(format, args...)
	return &TrapError{Func: g.fn, Msg: msg, Err: &LimitError{Limit: limit, Msg: msg}}
}

// scratchTrap turns a device's refusal to hold more scratch (a
// device.KernelStop of limit MaxScratch inside err) into the guest's
// MaxScratch trap; it returns nil for any other error.
func (g *Guest) scratchTrap(err error) *TrapError {
	var ks *device.KernelStop
	if errors.As(err, &ks) && ks.Limit == "MaxScratch" {
		return g.limitTrap("MaxScratch", "%s", ks.Msg)
	}
	return nil
}
