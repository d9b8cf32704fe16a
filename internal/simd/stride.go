package simd

import (
	"fmt"
	"slices"
)

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
// by a, attention's values weighted by their probabilities. It is
// WeightedSumsBF16 for one row. It panics unless stride ≥ len(out) and w
// holds the last row.
func WeightedSumBF16(a []float32, w []uint16, stride int, out []float32) {
	checkStride("WeightedSumBF16", len(w), stride, len(out), len(a))
	weightedSums(kBF16, a, 0, w, stride, out, 0, []int{len(a)}, len(out))
}

// WeightedSumF16 is WeightedSumBF16 for float16 rows.
func WeightedSumF16(a []float32, w []uint16, stride int, out []float32) {
	checkStride("WeightedSumF16", len(w), stride, len(out), len(a))
	weightedSums(kF16, a, 0, w, stride, out, 0, []int{len(a)}, len(out))
}

// WeightedSumF32 is WeightedSumBF16 for float32 rows.
func WeightedSumF32(a []float32, w []float32, stride int, out []float32) {
	checkStride("WeightedSumF32", len(w), stride, len(out), len(a))
	weightedSums(kF32, a, 0, w, stride, out, 0, []int{len(a)}, len(out))
}

// WeightedSumsBF16 adds Σ_{j<k[r]} a[r*astride+j]·w[j*wstride+i] to
// out[r*ostride+i] for every row r < len(k) and i < cols: len(k) weighted
// sums of the bfloat16 rows of w (stride wstride) at once, row r of the
// coefficients a taking the first k[r] rows of w — A·W added to out, with a
// causal mask when k grows with r: attention's probabilities for several
// queries times a KV head's cached values.
//
// Rows go to the kernels in blocks that share each row of w they read (6
// with AVX-512, 3 with AVX2, across the first k of the block's rows), and
// each row adds its keys past those alone. Each element adds its terms in
// key order: with AVX2 (and F16C for float16 rows), for the columns up to
// the last multiple of 8, one fused multiply-add each; elsewhere a multiply
// and an add. It panics unless wstride ≥ cols, ostride ≥ cols when there
// are several rows, every k[r] ≥ 0, and a, w and out hold every row they
// are asked for.
func WeightedSumsBF16(a []float32, astride int, w []uint16, wstride int, out []float32, ostride int, k []int, cols int) {
	checkSums("WeightedSumsBF16", len(a), astride, len(w), wstride, len(out), ostride, k, cols)
	weightedSums(kBF16, a, astride, w, wstride, out, ostride, k, cols)
}

// WeightedSumsF16 is WeightedSumsBF16 for float16 rows.
func WeightedSumsF16(a []float32, astride int, w []uint16, wstride int, out []float32, ostride int, k []int, cols int) {
	checkSums("WeightedSumsF16", len(a), astride, len(w), wstride, len(out), ostride, k, cols)
	weightedSums(kF16, a, astride, w, wstride, out, ostride, k, cols)
}

// WeightedSumsF32 is WeightedSumsBF16 for float32 rows.
func WeightedSumsF32(a []float32, astride int, w []float32, wstride int, out []float32, ostride int, k []int, cols int) {
	checkSums("WeightedSumsF32", len(a), astride, len(w), wstride, len(out), ostride, k, cols)
	weightedSums(kF32, a, astride, w, wstride, out, ostride, k, cols)
}

// checkSums panics unless WeightedSums's operands hold what k and cols ask
// for (see WeightedSumsBF16).
func checkSums(fn string, la, astride, lw, wstride, lout, ostride int, k []int, cols int) {
	bad := cols < 0 || wstride < cols || len(k) > 1 && (astride < 0 || ostride < cols)
	most := 0
	for r, kr := range k {
		if kr < 0 || kr > 0 && r*astride+kr > la {
			bad = true
			break
		}
		most = max(most, kr)
	}
	if !bad && len(k) > 0 {
		bad = (len(k)-1)*ostride+cols > lout || most > 0 && (most-1)*wstride+cols > lw
	}
	if bad {
		panic(fmt.Sprintf("simd: %s: len(a) = %d, astride = %d, len(w) = %d, wstride = %d, len(out) = %d, ostride = %d, k = %v, cols = %d; "+
			"want wstride ≥ cols, ostride ≥ cols, k[r] ≥ 0 and every row within a, w and out",
			fn, la, astride, lw, wstride, lout, ostride, k, cols))
	}
}

// GemmBF16Stride sets out[t*ostride+r] = Σ_{i<cols} x[t*xstride+i]·w[r*wstride+i]
// for t < n and r < rows: X·Wᵀ for n float32 rows of x and rows bfloat16
// rows of w, each a stride apart — attention's scores, a block of queries
// (x) against a KV head's cached keys (w). Unlike GemmBF16 it keeps x in
// float32; it runs GemmF16's tiles (4 rows of w × 6 rows of x with AVX-512,
// × 3 with AVX2), so each result differs from a sequential float32 sum only
// by summation order. It panics unless wstride ≥ cols, xstride ≥ cols,
// ostride ≥ rows (when n > 1) and the slices hold the last rows.
func GemmBF16Stride(w []uint16, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int) {
	checkGemmStride("GemmBF16Stride", len(w), wstride, len(x), xstride, len(out), ostride, n, rows, cols)
	gemmStrided(kBF16, w, wstride, x, xstride, out, ostride, n, cols, 0, rows)
}

// GemmF16Stride is GemmBF16Stride for float16 rows of w.
func GemmF16Stride(w []uint16, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int) {
	checkGemmStride("GemmF16Stride", len(w), wstride, len(x), xstride, len(out), ostride, n, rows, cols)
	gemmStrided(kF16, w, wstride, x, xstride, out, ostride, n, cols, 0, rows)
}

// GemmF32Stride is GemmBF16Stride for float32 rows of w.
func GemmF32Stride(w []float32, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int) {
	checkGemmStride("GemmF32Stride", len(w), wstride, len(x), xstride, len(out), ostride, n, rows, cols)
	gemmStrided(kF32, w, wstride, x, xstride, out, ostride, n, cols, 0, rows)
}

// checkGemmStride panics unless GemmStride's operands hold n rows of x and
// rows rows of w (see GemmBF16Stride).
func checkGemmStride(fn string, lw, wstride, lx, xstride, lout, ostride, n, rows, cols int) {
	if n < 0 || rows < 0 || cols < 0 || wstride < cols || xstride < cols || n > 1 && ostride < rows ||
		rows > 0 && (rows-1)*wstride+cols > lw ||
		n > 0 && (n-1)*xstride+cols > lx ||
		n > 0 && rows > 0 && (n-1)*ostride+rows > lout {
		panic(fmt.Sprintf("simd: %s: len(w) = %d, wstride = %d, len(x) = %d, xstride = %d, len(out) = %d, ostride = %d, n = %d, rows = %d, cols = %d; "+
			"want strides ≥ their rows and every row within w, x and out",
			fn, lw, wstride, lx, xstride, lout, ostride, n, rows, cols))
	}
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

// weightedSums is WeightedSums after its caller checked the operands: the
// rows in blocks of the kernel's rows over the block's fewest keys, then
// each row's keys past those and the rows left over one at a time; the
// columns past the last whole register in Go.
func weightedSums[W uint16 | float32](kk *kernels[W], a []float32, astride int, w []W, wstride int, out []float32, ostride int, k []int, cols int) {
	if len(k) == 0 {
		return
	}
	var ks wsumKernels[W]
	switch {
	case kk.asm() && useAVX512:
		ks = kk.wsum512
	case kk.asm():
		ks = kk.wsum
	}
	nv := 0
	if ks.lanes > 0 {
		nv = cols &^ (ks.lanes - 1)
	}
	if nv > 0 {
		// from adds keys j0 ≤ j < j1 of row r with the one-row kernel.
		from := func(r, j0, j1 int) {
			if j1 > j0 {
				ks.one(&a[r*astride+j0], astride, &w[j0*wstride], wstride, &out[r*ostride], ostride, j1-j0, nv)
			}
		}
		r := 0
		for ; r+ks.rows <= len(k); r += ks.rows {
			common := slices.Min(k[r : r+ks.rows])
			if common > 0 {
				ks.many(&a[r*astride], astride, &w[0], wstride, &out[r*ostride], ostride, common, nv)
			}
			for i := r; i < r+ks.rows; i++ {
				from(i, common, k[i])
			}
		}
		for ; r < len(k); r++ {
			from(r, 0, k[r])
		}
	}
	if nv == cols {
		return
	}
	// In Go: each row of w widened once, a block of columns at a time, for
	// every row of a that takes it.
	most := slices.Max(k)
	var buf [256]float32
	for c0 := nv; c0 < cols; c0 += len(buf) {
		c1 := min(cols, c0+len(buf))
		wj := buf[:c1-c0]
		for j := range most {
			kk.widenRow(wj, w[j*wstride+c0:j*wstride+c1])
			for r, kr := range k {
				if j < kr {
					aj, o := a[r*astride+j], out[r*ostride+c0:r*ostride+c1]
					for i, v := range wj {
						o[i] += aj * v
					}
				}
			}
		}
	}
}
