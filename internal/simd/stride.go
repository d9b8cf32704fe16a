package simd

import "fmt"

// Strided kernels, for attention over a KV cache: a cache row holds every KV
// head's key (or value) for one position, so one head's keys are rows a
// fixed stride apart rather than a contiguous matrix.

// GemvBF16Stride sets out[r] = Σ_i w[r*stride+i]·x[i] for r < len(out) and
// i < len(x): a GEMV over bfloat16 rows stride elements apart, one query's
// scores against every cached key of its head. It panics unless
// stride ≥ len(x) and w holds the last row.
func GemvBF16Stride(w []uint16, stride int, x, out []float32) {
	gemvStride(kBF16, "GemvBF16Stride", w, stride, x, out)
}

// GemvF16Stride is GemvBF16Stride for float16 rows.
func GemvF16Stride(w []uint16, stride int, x, out []float32) {
	gemvStride(kF16, "GemvF16Stride", w, stride, x, out)
}

// GemvF32Stride is GemvBF16Stride for float32 rows.
func GemvF32Stride(w []float32, stride int, x, out []float32) {
	gemvStride(kF32, "GemvF32Stride", w, stride, x, out)
}

// WeightedSumBF16 adds Σ_j a[j]·w[j*stride+i] to out[i] for i < len(out) and
// j < len(a): the sum of len(a) bfloat16 rows stride elements apart weighted
// by a, attention's values weighted by their probabilities. Each element
// adds its terms in row order. With AVX2 and len(out) a multiple of 64 the
// products are fused multiply-adds (one rounding each), elsewhere a multiply
// and an add. It panics unless stride ≥ len(out) and w holds the last row.
func WeightedSumBF16(a []float32, w []uint16, stride int, out []float32) {
	checkStride("WeightedSumBF16", len(w), stride, len(out), len(a))
	if len(a) > 0 && len(out) > 0 && len(out)%64 == 0 && useAVX2 {
		weightedSumBF16AVX2(&a[0], len(a), &w[0], stride, &out[0], len(out))
		return
	}
	weightedSum(kBF16, a, w, stride, out)
}

// WeightedSumF16 is WeightedSumBF16 for float16 rows, in Go.
func WeightedSumF16(a []float32, w []uint16, stride int, out []float32) {
	checkStride("WeightedSumF16", len(w), stride, len(out), len(a))
	weightedSum(kF16, a, w, stride, out)
}

// WeightedSumF32 is WeightedSumBF16 for float32 rows, in Go.
func WeightedSumF32(a []float32, w []float32, stride int, out []float32) {
	checkStride("WeightedSumF32", len(w), stride, len(out), len(a))
	weightedSum(kF32, a, w, stride, out)
}

// checkStride panics unless rows rows of cols elements, stride apart, fit in
// lw elements.
func checkStride(fn string, lw, stride, cols, rows int) {
	if stride < cols || rows > 0 && lw < (rows-1)*stride+cols {
		panic(fmt.Sprintf("simd: %s: len(w) = %d, stride = %d, %d rows of %d; want stride ≥ cols and len(w) ≥ (rows-1)·stride + cols",
			fn, lw, stride, rows, cols))
	}
}

func gemvStride[W uint16 | float32](k *kernels[W], fn string, w []W, stride int, x, out []float32) {
	checkStride(fn, len(w), stride, len(x), len(out))
	gemvStrideUnchecked(k, w, stride, x, out)
}

// gemvStrideUnchecked is gemvStride after its caller checked the lengths.
func gemvStrideUnchecked[W uint16 | float32](k *kernels[W], w []W, stride int, x, out []float32) {
	rows, cols := len(out), len(x)
	r := 0
	if n8 := cols &^ 7; n8 > 0 && k.asm() {
		for ; r+4 <= rows; r += 4 {
			k.gemv4(&w[r*stride], stride, &x[0], n8, &out[r])
			for j := range 4 {
				out[r+j] += tail(k, w[(r+j)*stride+n8:(r+j)*stride+cols], x[n8:])
			}
		}
	}
	for ; r < rows; r++ {
		out[r] = dotUnchecked(k, w[r*stride:r*stride+cols], x)
	}
}

func weightedSum[W uint16 | float32](k *kernels[W], a []float32, w []W, stride int, out []float32) {
	for j, aj := range a {
		for i, v := range w[j*stride : j*stride+len(out)] {
			out[i] += aj * k.widen(v)
		}
	}
}
