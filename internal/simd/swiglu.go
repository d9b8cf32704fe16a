package simd

import (
	"fmt"
	"math"
)

// SwiGLU sets out[i] = silu(gate[i])·up[i], where silu(g) = g/(1+e^−g): the
// gated activation of Llama's MLP, over the 8192 values of a token's
// intermediate layer. out may be gate or up. With AVX2 it computes e^−g in
// float32, eight at a time (gen_amd64.go, swiglu; Cephes' expf: within
// 1.7e-7 relative), the last len%8 padded to eight, so every element gets
// the same arithmetic wherever it falls; elsewhere through float64 math.Exp.
// Either way, for g ≥ −87 the result is within 6·2⁻²⁴·|exact| + 2⁻¹⁴⁹ of the
// exact value (the exponential's error, three float32 roundings, and half
// the smallest subnormal where the product is one); below, where silu(g) is
// smaller than 1e-35, the float32 path may return up to 1e-35·|up| or −0. NaN in gate or up gives NaN. It panics unless the three
// lengths are equal.
func SwiGLU(gate, up, out []float32) {
	if len(gate) != len(out) || len(up) != len(out) {
		panic(fmt.Sprintf("simd: SwiGLU: len(gate) = %d, len(up) = %d, len(out) = %d; want equal", len(gate), len(up), len(out)))
	}
	if !useAVX2 {
		for i, g := range gate {
			out[i] = float32(float64(g)/(1+math.Exp(-float64(g)))) * up[i]
		}
		return
	}
	n8 := len(out) &^ 7
	if n8 > 0 {
		swigluAVX2(&gate[0], &up[0], &out[0], n8)
	}
	if n8 < len(out) {
		var g, u [8]float32
		copy(g[:], gate[n8:])
		copy(u[:], up[n8:])
		swigluAVX2(&g[0], &u[0], &g[0], 8)
		copy(out[n8:], g[:])
	}
}
