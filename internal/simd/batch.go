package simd

import (
	"fmt"
	"sync"
)

// The bfloat16 GEMM: a batch of tokens' activations rounded to bfloat16 once
// (PackedBatch), then multiplied by bf16 weights read in place. Where the CPU
// has AVX512_BF16 the batch is laid out for VDPBF16PS, which multiplies 32
// pairs of bfloat16s into 16 float32 sums per instruction: two cores of the
// project's EPYC peak at ≈ 2 × 234 GFLOP/s with it, against 2 × 117 for
// float32 FMAs. Elsewhere the rounded batch stays float32, in order, for the
// AVX-512 (4 × 6) or AVX2 (4 × 3) tile kernels, or the portable dot products:
// every path rounds x the same way, so a result depends on the CPU only
// through the order of its float32 sums.

// PackedBatch is n tokens' activations (rows of x, cols float32s each)
// rounded to bfloat16 and laid out for GemmBF16Packed. A caller that splits
// one GEMM over goroutines packs x once and hands the same PackedBatch to
// each; the kernels only read it. The zero value is an empty batch; Pack
// reuses its storage.
type PackedBatch struct {
	n, cols int
	dp      bool      // laid out for the VDPBF16PS kernel (gemmBF16DP)
	k32     int       // dp: the columns in whole blocks of 32, held in h
	h       []uint16  // dp: the groups, one after another (gemmDP's layout)
	groups  []dpGroup // dp
	f       []float32 // dp: columns k32… of every row, rounded; else all of x, rounded, in order
}

// dpGroup is tokens t0…t0+tokens-1 of a batch, whose packed columns start at
// h[t0·k32]: one pass of the VDPBF16PS kernel.
type dpGroup struct{ t0, tokens int }

// Pack sets p to the n rows of x (cols float32s each) rounded to bfloat16
// (nearest even, subnormals to zero of the same sign, NaN kept) and returns
// p. On a CPU with AVX512_BF16 the columns in whole blocks of 32 are stored
// as bfloat16, the tokens in groups of at most six (as even as the count
// allows) and, within a group, each block's 32 columns token after token, so
// the kernel reads a group as one stream; the last cols%32 columns stay
// float32. Elsewhere the rounded values stay float32, in order. It panics
// unless len(x) == n*cols.
func (p *PackedBatch) Pack(x []float32, n, cols int) *PackedBatch {
	if n < 0 || cols < 0 || len(x) != n*cols {
		panic(fmt.Sprintf("simd: PackedBatch.Pack: len(x) = %d, n = %d, cols = %d; want len(x) == n*cols", len(x), n, cols))
	}
	p.n, p.cols, p.dp = n, cols, useAVX512BF16
	if !p.dp {
		p.f = grow(p.f, n*cols)
		roundBF16(x, p.f)
		return p
	}
	p.k32 = cols &^ 31
	p.h = grow(p.h, n*p.k32)
	p.groups = p.groups[:0]
	groups := (n + dpTokens - 1) / dpTokens
	for g, t0 := 0, 0; g < groups; g++ {
		tokens := n / groups
		if g < n%groups {
			tokens++
		}
		p.groups = append(p.groups, dpGroup{t0, tokens})
		if p.k32 > 0 {
			packBF16DP(&x[t0*cols], cols, tokens, p.k32/32, &p.h[t0*p.k32])
		}
		t0 += tokens
	}
	tw := cols - p.k32
	p.f = grow(p.f, n*tw)
	for t := range n {
		roundBF16(x[t*cols+p.k32:(t+1)*cols], p.f[t*tw:(t+1)*tw])
	}
	return p
}

// dpTokens is the most tokens gemmBF16DP takes in one pass (gen_amd64.go).
const dpTokens = 6

// Tokens returns the batch's n and cols.
func (p *PackedBatch) Tokens() (n, cols int) { return p.n, p.cols }

// grow returns s resized to n, reallocated only if too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// roundBF16 sets dst[i] to src[i] rounded to bfloat16, as a float32.
func roundBF16(src, dst []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = bf16ToF32(f32ToBF16(v))
	}
}

// GemmBF16 sets out[t*rows+r] = Σ_i x̃[t*cols+i]·w[r*cols+i] for n tokens
// (rows of x) and rows rows of the bfloat16 matrix w, x̃ being x rounded to
// bfloat16: X·Wᵀ, a prefill step of a Linear layer. It packs x and calls
// GemmBF16Packed on every row. It panics unless len(w) == rows*cols,
// len(x) == n*cols and len(out) == n*rows.
func GemmBF16(w []uint16, x, out []float32, n, rows, cols int) {
	if n < 0 || cols < 0 || len(x) != n*cols {
		panic(fmt.Sprintf("simd: GemmBF16: len(x) = %d, n = %d, cols = %d; want len(x) == n*cols", len(x), n, cols))
	}
	p := batchPool.Get().(*PackedBatch)
	gemmBF16Packed("GemmBF16", w, p.Pack(x, n, cols), out, rows, 0, rows)
	batchPool.Put(p)
}

// batchPool holds GemmBF16's packed batches.
var batchPool = sync.Pool{New: func() any { return new(PackedBatch) }}

// GemmBF16Packed is GemmBF16 on a packed x, restricted to the rows
// r0 ≤ r < r1: it writes only out[t*rows+r] for those r, so goroutines given
// disjoint row ranges can fill one out together. With AVX512_BF16 it works
// on tiles of 4 rows × up to 6 tokens with the weights' lanes along the
// columns, no copy of the weights: each tile reads its 4 rows and its group
// of x as streams, and the rows stay in cache while every group of the batch
// passes, so each weight is read from memory once per call. A row's result
// does not depend on how the rows are split nor on the other tokens of the
// batch (same kernel, same order of sums); on the other paths ranges that
// start at multiples of 4 keep every row in the same tile kernel. It panics
// unless len(w) == rows*cols and len(out) == n*rows for x's n and cols, and
// 0 ≤ r0 ≤ r1 ≤ rows.
func GemmBF16Packed(w []uint16, x *PackedBatch, out []float32, rows, r0, r1 int) {
	gemmBF16Packed("GemmBF16Packed", w, x, out, rows, r0, r1)
}

func gemmBF16Packed(fn string, w []uint16, x *PackedBatch, out []float32, rows, r0, r1 int) {
	n, cols := x.n, x.cols
	if rows < 0 || len(w) != rows*cols || len(out) != n*rows {
		panic(fmt.Sprintf("simd: %s: len(w) = %d, len(out) = %d, rows = %d, batch of %d × %d; want len(w) == rows*cols, len(out) == n*rows",
			fn, len(w), len(out), rows, n, cols))
	}
	if r0 < 0 || r0 > r1 || r1 > rows {
		panic(fmt.Sprintf("simd: %s: rows [%d, %d) outside [0, %d)", fn, r0, r1, rows))
	}
	if !x.dp {
		gemmRows(kBF16, fn, w, x.f, out, n, rows, cols, r0, r1)
		return
	}
	k32 := x.k32
	if k32 > 0 {
		for r := r0; r < r1; {
			nr := 4
			if r+nr > r1 {
				nr = 1
			}
			for _, g := range x.groups {
				gemmBF16DP(&w[r*cols], cols, &x.h[g.t0*k32], k32, &out[g.t0*rows+r], rows, nr, g.tokens)
			}
			r += nr
		}
	}
	if tw := cols - k32; tw > 0 || cols == 0 {
		for t := range n {
			xt := x.f[t*tw : (t+1)*tw]
			for r := r0; r < r1; r++ {
				s := dotUnchecked(kBF16, w[r*cols+k32:(r+1)*cols], xt)
				if k32 > 0 {
					s += out[t*rows+r]
				}
				out[t*rows+r] = s
			}
		}
	}
}
