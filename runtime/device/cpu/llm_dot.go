package cpu

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// The inner loops of Linear and Attention: a dot product of one weight or
// cache row, stored as bf16, f16 or f32, with a float32 activation row, and
// its transpose (axpy) for attention's weighted sum of values. They are plain
// Go with four accumulators (Go does not vectorize); an assembly version
// (internal/simd) can replace the bodies without touching the kernels.
//
// bf16 is the top half of a float32, so widening one is a shift: the weights
// are read straight from their mapping, two bytes per element, and no f32
// copy of them is ever made — the kernels cost no memory beyond the mapping.

// dotBF16 returns Σ w[i]·x[i] over len(w) elements, w in bfloat16.
func dotBF16(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
		s1 += math.Float32frombits(uint32(w[i+1])<<16) * x[i+1]
		s2 += math.Float32frombits(uint32(w[i+2])<<16) * x[i+2]
		s3 += math.Float32frombits(uint32(w[i+3])<<16) * x[i+3]
	}
	for ; i < len(w); i++ {
		s0 += math.Float32frombits(uint32(w[i])<<16) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotF16 returns Σ w[i]·x[i], w in IEEE half precision.
func dotF16(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(w); i += 2 {
		s0 += safetensors.F16ToF32(w[i]) * x[i]
		s1 += safetensors.F16ToF32(w[i+1]) * x[i+1]
	}
	for ; i < len(w); i++ {
		s0 += safetensors.F16ToF32(w[i]) * x[i]
	}
	return s0 + s1
}

// dotF32 returns Σ a[i]·b[i].
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

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
		return dotBF16(u16(row)[:len(x)], x)
	case "F16":
		return dotF16(u16(row)[:len(x)], x)
	}
	return dotF32(f32s(row)[:len(x)], x)
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
