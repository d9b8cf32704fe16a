package metal

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
)

// llm_plan.go holds the LLM ops' pure decisions (kernel names, launch
// geometry, argument packing, copy-mode staging layout), kept free of build
// tags so they are tested on every system, not only on a Mac.

// simdWidth is the SIMD-group width the LLM kernels are written for (every
// Apple GPU): their shuffles and per-lane output dims assume it.
const simdWidth = 32

// stageAlign is the alignment of each operand's region in a copy-mode
// staging buffer: more than any kernel's vector load needs.
const stageAlign = 256

// dtSuffix is the kernel-name suffix for a weight ("BF16", "F16", "F32") or
// KV ("bf16", "f16", "f32") element type; "" if unknown.
func dtSuffix(dt string) string {
	e, _ := device.ElemType(dt)
	return string(e)
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b uint) uint { return (a + b - 1) / b }

// threadsFor is a threadgroup size for a kernel that works with any whole
// number of SIMD groups: want, capped by the pipeline's limit, rounded down
// to a multiple of simdWidth. It fails when not even one SIMD group fits.
func threadsFor(name string, want, maxThreads uint) (uint, error) {
	n := min(want, maxThreads) / simdWidth * simdWidth
	if n == 0 {
		return 0, fmt.Errorf("kernel %s allows %d threads per threadgroup, fewer than one %d-wide SIMD group", name, maxThreads, simdWidth)
	}
	return n, nil
}

// maxSpanBytes is the largest span an LLM op takes: the kernels index
// elements with 32-bit uint, and a span below 4 GiB holds fewer than 2^32
// elements of any type.
const maxSpanBytes = 1<<32 - 1

// checkSpanSizes refuses spans the 32-bit kernel indices cannot cover.
func checkSpanSizes(args []operand.Operand) error {
	for i, a := range args {
		if a.S.Len > maxSpanBytes {
			return fmt.Errorf("operand %d is %d bytes: the metal kernels index with 32 bits (at most %d bytes)", i, a.S.Len, uint64(maxSpanBytes))
		}
	}
	return nil
}

// stagePlan lays copy-mode operands out in one staging buffer: each span
// gets a stageAlign-aligned region, except that a span equal to an earlier
// one (an in-place op such as RMSNorm with out = x) shares its region, with
// the union of its directions. It returns the regions' offsets, for each
// operand the index of the operand it shares with (or -1), and the bytes
// needed.
func stagePlan(args []operand.Operand) (offs []uint64, same []int, total uint64) {
	offs, same = make([]uint64, len(args)), operand.Same(args, make([]int, 0, len(args)))
	for i := range args {
		if same[i] >= 0 {
			offs[i] = offs[same[i]]
			continue
		}
		offs[i] = total
		total += (args[i].S.Len + stageAlign - 1) &^ (stageAlign - 1)
	}
	return offs, same, total
}

// bindOffset splits a byte offset into the 4-byte aligned offset a buffer
// is bound at (setBuffer:offset:atIndex: wants offsets aligned to what the
// kernel reads) and the whole elements of size es between the two, which
// the kernel adds to its indices. KVStore needs it: with 2-byte elements
// and an odd row width, row pos of a cache can start 2 bytes past a
// multiple of 4.
func bindOffset(off uint64, es int) (aligned uint64, elems uint32) {
	aligned = off &^ 3
	return aligned, uint32((off - aligned) / uint64(es))
}
