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

// axpyGroup does out[g·d+i] += a[g]·row[i] for each g < len(a), where
// d = len(out)/len(a) is the row's length: axpyRow for a group of outputs
// sharing one row, which is read and widened once for all of them. Each
// output element gets the same product and sum as from axpyRow.
func axpyGroup(dt string, a []float32, row []byte, out []float32) {
	d := len(out) / len(a)
	if dt != "BF16" || len(a) != 4 {
		for g, ag := range a {
			axpyRow(dt, ag, row, out[g*d:(g+1)*d])
		}
		return
	}
	r := u16(row)[:d]
	o0, o1, o2, o3 := out[:d], out[d:2*d], out[2*d:3*d], out[3*d:4*d]
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	for i, h := range r {
		v := math.Float32frombits(uint32(h) << 16)
		o0[i] += a0 * v
		o1[i] += a1 * v
		o2[i] += a2 * v
		o3[i] += a3 * v
	}
}
