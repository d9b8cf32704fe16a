package cpu

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/internal/simd"
)

// The inner loops of Attention and the small ops: a dot product of one
// cache row, stored as bf16, f16 or f32, with a float32 activation row
// (internal/simd: AVX2+FMA on amd64, portable Go elsewhere), its transpose
// (axpy) for attention's weighted sum of values, and widening a row.
// Linear calls internal/simd's GEMV and GEMM directly (llm_kernels.go).
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

// dotRow returns Σ row[i]·x[i] for a row of len(x) elements of dtype dt.
func dotRow(dt string, row []byte, x []float32) float32 {
	switch dt {
	case "BF16":
		return simd.DotBF16(u16(row)[:len(x)], x)
	case "F16":
		return simd.DotF16(u16(row)[:len(x)], x)
	}
	return simd.DotF32(f32s(row)[:len(x)], x)
}

// axpyRow does out[i] += a·row[i] for a row of len(out) elements of dtype dt.
func axpyRow(dt string, a float32, row []byte, out []float32) {
	switch dt {
	case "BF16":
		for i, h := range u16(row)[:len(out)] {
			out[i] += a * math.Float32frombits(uint32(h)<<16)
		}
	case "F16":
		for i, h := range u16(row)[:len(out)] {
			out[i] += a * safetensors.F16ToF32(h)
		}
	default:
		for i, v := range f32s(row)[:len(out)] {
			out[i] += a * v
		}
	}
}
