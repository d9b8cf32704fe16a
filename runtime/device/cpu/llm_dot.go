package cpu

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The inner loops of Attention and the small ops: one KV head's cached rows,
// stored as bf16, f16 or f32, dotted with a float32 query and summed with
// weights (internal/simd's strided kernels: AVX2+FMA on amd64, portable Go
// elsewhere), and widening a row. Linear calls internal/simd's GEMV and
// GEMM directly (llm_kernels.go).
//
// bf16 is the top half of a float32, so widening one is a shift: the weights
// are read straight from their mapping, two bytes per element, and no f32
// copy of them is ever made — the kernels cost no memory beyond the mapping.

// widen converts n elements of dtype dt from raw little-endian bytes to f32.
func widen(dt string, raw []byte, out []float32) {
	switch dt {
	case "BF16":
		for i, h := range u16(raw)[:len(out)] {
			out[i] = math.Float32frombits(uint32(h) << 16)
		}
	case "F16":
		for i, h := range u16(raw)[:len(out)] {
			out[i] = safetensors.F16ToF32(h)
		}
	default:
		copy(out, f32s(raw)[:len(out)])
	}
}

// cacheRows is one KV head's rows of a cache (keys or values): row j's
// elements of dtype dt start at element j·width+off of the cache, whose rows
// hold every head; the caller's vectors give the row length.
type cacheRows struct {
	dt         device.KVDType
	cache      []byte
	off, width int
}

// from returns the rows from row j on.
func (c cacheRows) from(j int) cacheRows {
	c.off += j * c.width
	return c
}

// dots sets p[j] = row j · x for the first len(p) rows.
func (c cacheRows) dots(x, p []float32) {
	switch c.dt {
	case device.KVBF16:
		simd.GemvBF16Stride(u16(c.cache)[c.off:], c.width, x, p)
	case device.KVF16:
		simd.GemvF16Stride(u16(c.cache)[c.off:], c.width, x, p)
	default:
		simd.GemvF32Stride(f32s(c.cache)[c.off:], c.width, x, p)
	}
}

// weightedSum adds Σ_j p[j]·row j to out for the first len(p) rows.
func (c cacheRows) weightedSum(p, out []float32) {
	switch c.dt {
	case device.KVBF16:
		simd.WeightedSumBF16(p, u16(c.cache)[c.off:], c.width, out)
	case device.KVF16:
		simd.WeightedSumF16(p, u16(c.cache)[c.off:], c.width, out)
	default:
		simd.WeightedSumF32(p, f32s(c.cache)[c.off:], c.width, out)
	}
}
