package simd

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// The portable kernels: what every machine without the assembly runs, and the
// reference the tests hold the assembly to. Four independent accumulators let
// the CPU overlap the adds a little; the compiler still emits scalar code.

// bf16ToF32 widens a bfloat16, the top half of a float32; it is exact.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToBF16 rounds f to bfloat16 as VCVTNE2PS2BF16 does: to nearest, ties to
// even (overflowing to ±Inf); zero and subnormals to zero of the same sign;
// a NaN to a quiet NaN with its sign and the top of its payload.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0:
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000:
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// f16ToF32 widens an IEEE 754 binary16 value; it is exact, subnormals,
// infinities and NaN payloads included, as VCVTPH2PS (and the safetensors
// reader, whose conversion this is).
func f16ToF32(h uint16) float32 { return safetensors.F16ToF32(h) }

func dotBF16Go(w []uint16, x []float32) float32 { return dotGo(w, x, widenBF16) }
func dotF16Go(w []uint16, x []float32) float32  { return dotGo(w, x, widenF16) }
func dotF32Go(w, x []float32) float32           { return dotGo(w, x, widenF32) }

func widenBF16(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = bf16ToF32(h)
	}
}

func widenF16(dst []float32, src []uint16) {
	for i, h := range src {
		dst[i] = f16ToF32(h)
	}
}

func widenF32(dst, src []float32) { copy(dst, src) }

// dotGo is the portable dot product: w widened a block at a time into a
// buffer on the stack, then multiplied with x in four interleaved float32
// chains (element i into chain i%4 while four are left, the rest into the
// first), which let the CPU overlap the adds a little.
func dotGo[W uint16 | float32](w []W, x []float32, widen func(dst []float32, src []W)) float32 {
	x = x[:len(w)]
	var buf [256]float32
	var s0, s1, s2, s3 float32
	for b := 0; b < len(w); b += len(buf) {
		wb := buf[:min(len(buf), len(w)-b)]
		widen(wb, w[b:b+len(wb)])
		xb := x[b : b+len(wb)]
		i := 0
		for ; i+4 <= len(wb); i += 4 {
			s0 += wb[i] * xb[i]
			s1 += wb[i+1] * xb[i+1]
			s2 += wb[i+2] * xb[i+2]
			s3 += wb[i+3] * xb[i+3]
		}
		for ; i < len(wb); i++ {
			s0 += wb[i] * xb[i]
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBF16PackedGo is dotBF16Go with x packed (PackedX): in each whole block
// of 32, w[b+2i] pairs with x[b+i] and w[b+2i+1] with x[b+16+i].
func dotBF16PackedGo(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	n := len(w) &^ (packBlock - 1)
	var s0, s1, s2, s3 float32
	for b := 0; b < n; b += packBlock {
		wb, xe, xo := w[b:b+packBlock], x[b:b+packBlock/2], x[b+packBlock/2:b+packBlock]
		for i := 0; i < packBlock/2; i += 2 {
			s0 += bf16ToF32(wb[2*i]) * xe[i]
			s1 += bf16ToF32(wb[2*i+1]) * xo[i]
			s2 += bf16ToF32(wb[2*i+2]) * xe[i+1]
			s3 += bf16ToF32(wb[2*i+3]) * xo[i+1]
		}
	}
	return (s0 + s1) + (s2 + s3) + dotBF16Go(w[n:], x[n:])
}
