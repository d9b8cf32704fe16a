package wasm

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TrapError is the error a guest call returns when the guest handed the host
// ABI something it must not: a range outside its memory, overlapping outputs,
// sizes that disagree with the shapes, or a request the device refused.
type TrapError struct {
	Func string // host function, e.g. "matmul"
	Msg  string
}

func (e *TrapError) Error() string { return fmt.Sprintf("wasmgpu.%s: %s", e.Func, e.Msg) }

// Trap aborts the current host function and the guest call that made it,
// with a TrapError naming the function. It does not return.
func (g *Guest) Trap(format string, args ...any) {
	panic(&TrapError{Func: g.fn, Msg: fmt.Sprintf(format, args...)})
}

// Span turns a guest (ptr, len) pair into a device.Span after checking, in
// 64-bit arithmetic, that the whole range lies inside the guest's current
// linear memory; otherwise it traps naming the operand and the range. The
// arguments are raw stack values so that nothing is truncated before the check.
func (g *Guest) Span(operand string, ptr, n uint64) device.Span {
	ptr, n = uint64(uint32(ptr)), uint64(uint32(n)) // i32 params arrive zero-extended
	size := uint64(g.caller.Memory().Size())
	if end := ptr + n; end > size {
		g.Trap("%s range [%#x, %#x) is outside linear memory of %#x bytes", operand, ptr, end, size)
	}
	return device.Span{Off: ptr, Len: n}
}

// NoOverlap traps if an output span overlaps an input or another output.
func (g *Guest) NoOverlap(inputs, outputs []device.Span) {
	if err := device.CheckSpans(uint64(g.caller.Memory().Size()), inputs, outputs); err != nil {
		g.Trap("%v", err)
	}
}
