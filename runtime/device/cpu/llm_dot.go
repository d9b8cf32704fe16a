package cpu

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The inner loops of Attention and the small ops: one KV head's cached rows,
// stored as bf16, f16 or f32, multiplied by a block of float32 queries and
// summed with weights (internal/simd's strided kernels: AVX-512 or AVX2+FMA
// on amd64, portable Go elsewhere), and widening a row. Linear calls
// internal/simd's GEMV and GEMM directly (llm_kernels.go).
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

// scores sets s[t·keys + j] = x row t · row j for t < n and j < keys, the
// rows of x (len(row) floats) xstride apart: a block of queries' scores
// against the first keys rows.
func (c cacheRows) scores(x []float32, xstride int, s []float32, n, keys, cols int) {
	switch c.dt {
	case device.KVBF16:
		simd.GemmBF16Stride(u16(c.cache)[c.off:], c.width, x, xstride, s, keys, n, keys, cols)
	case device.KVF16:
		simd.GemmF16Stride(u16(c.cache)[c.off:], c.width, x, xstride, s, keys, n, keys, cols)
	default:
		simd.GemmF32Stride(f32s(c.cache)[c.off:], c.width, x, xstride, s, keys, n, keys, cols)
	}
}

// weightedSums adds Σ_{j<k[t]} p[t·pstride + j]·row j to out row t (cols
// floats, ostride apart) for t < len(k).
func (c cacheRows) weightedSums(p []float32, pstride int, out []float32, ostride int, k []int, cols int) {
	switch c.dt {
	case device.KVBF16:
		simd.WeightedSumsBF16(p, pstride, u16(c.cache)[c.off:], c.width, out, ostride, k, cols)
	case device.KVF16:
		simd.WeightedSumsF16(p, pstride, u16(c.cache)[c.off:], c.width, out, ostride, k, cols)
	default:
		simd.WeightedSumsF32(p, pstride, f32s(c.cache)[c.off:], c.width, out, ostride, k, cols)
	}
}
