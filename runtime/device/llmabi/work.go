package llmabi

import (
	"math/bits"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Work is the multiply-adds c asks for, by its op's work class
// (optable.Op.Work): what a sandbox holds against its cap on one call
// before any kernel runs. Ops whose work follows their operands' bytes
// count 0 (their operands already fit the caller's memory). c must have
// passed Validate, so its shapes agree with w; the arithmetic saturates at
// 2^64-1 instead of wrapping.
func (c *Call) Work(w device.Weights) uint64 {
	l := c.Op.Layout()
	if l == nil || w == nil {
		return 0
	}
	switch l.Work {
	case optable.Projections:
		n := c.scalar(l, "n")
		active := maxSlots
		if l.Group > 0 {
			active = c.Count
		}
		var total uint64
		for i := range l.Weights {
			if l.Weights[i].Slot >= active {
				continue
			}
			if t, ok := w.Tensor(c.W[i]); ok && len(t.Shape) == 2 {
				total = satAdd(total, satMul(n, satMul(uint64(t.Shape[0]), uint64(t.Shape[1]))))
			}
		}
		return total
	case optable.Attention:
		n, pos := c.scalar(l, "n"), c.scalar(l, "pos")
		return satMul(satMul(2*n, pos+n), satMul(c.scalar(l, "heads"), c.scalar(l, "headDim")))
	}
	return 0
}

// scalar is c's integer scalar called name (0 if the op has none).
func (c *Call) scalar(l *optable.Layout, name string) uint64 {
	for k := range l.Ints {
		if l.Ints[k].Name == name {
			return uint64(c.I[k])
		}
	}
	return 0
}

// satMul is a·b, or 2^64-1 if that overflows.
func satMul(a, b uint64) uint64 {
	if hi, lo := bits.Mul64(a, b); hi == 0 {
		return lo
	}
	return 1<<64 - 1
}

// satAdd is a+b, or 2^64-1 if that overflows.
func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return 1<<64 - 1
}
