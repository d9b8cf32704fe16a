package simd

import "math"

// The softmax's elementwise steps, for attention: the largest score of a
// row, then each score's exponential less the largest and their sum.

// Max returns the largest element of x, skipping NaNs: −Inf if x is empty or
// holds only NaNs. With AVX2 it compares eight at a time.
func Max(x []float32) float32 {
	m := float32(math.Inf(-1))
	n8 := 0
	if useAVX2 {
		n8 = len(x) &^ 7
	}
	if n8 > 0 {
		m = maxAVX2(&x[0], n8)
	}
	for _, v := range x[n8:] {
		if v > m {
			m = v
		}
	}
	return m
}

// ExpSum sets x[i] = e^(x[i]·scale − shift) and returns Σ x[i] of the new
// values, summed in float32: a softmax's numerators and its denominator in
// one pass over the scores, shift being the largest score times scale. With
// AVX2 the exponential is SwiGLU's float32 one (gen_amd64.go, expPS), eight
// at a time, the argument one fused multiply-add, the last len(x)%8 padded
// to eight so every element gets the same arithmetic wherever it falls;
// elsewhere the argument and exponential are float64 (math.Exp), rounded
// once. Either way a result is within (|a|+3)·2⁻²⁴·e^a + 2⁻¹²⁵ of the exact
// e^a, a = x[i]·scale − shift: the argument's rounding, the polynomial's
// error, and, below a = −87.3 where the float32 path clamps, e^−87.3 ≈
// 1.2e-38 in place of a smaller value. NaN gives NaN; +Inf gives +Inf.
func ExpSum(x []float32, scale, shift float32) float32 {
	if !useAVX2 {
		var s float32
		for i, v := range x {
			e := float32(math.Exp(float64(v)*float64(scale) - float64(shift)))
			x[i] = e
			s += e
		}
		return s
	}
	var s float32
	n8 := len(x) &^ 7
	if n8 > 0 {
		s = expSumAVX2(&x[0], n8, scale, shift)
	}
	if n8 < len(x) {
		var buf [8]float32
		tail := x[n8:]
		copy(buf[:], tail)
		expSumAVX2(&buf[0], 8, scale, shift)
		for i := range tail {
			tail[i] = buf[i]
			s += buf[i]
		}
	}
	return s
}
