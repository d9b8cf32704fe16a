package simd

import (
	"fmt"
	"sync"
)

// kernels ties one weight type's assembly to its scalar widening and portable
// dot product, so the blocking logic below is written once.
type kernels[W uint16 | float32] struct {
	name  string
	asm   func() bool // the assembly may run (read each call: tests flip it)
	widen func(W) float32
	// widenRow widens len(dst) weights of src.
	widenRow func(dst []float32, src []W)
	dotGo    func(w []W, x []float32) float32
	dot      func(w *W, x *float32, n int) float32
	gemv4    func(w *W, stride int, x *float32, n int, out *float32)
	gemm     gemmKernel[W] // 4 rows × 3 tokens, AVX2
	gemm512  gemmKernel[W] // 4 rows × 6 tokens, AVX-512
	wsum     wsumKernels[W]
	wsum512  wsumKernels[W]
}

// wsumKernel is a weighted-sum kernel (gen_amd64.go, weightedSums):
// out[r·ostride+i] += Σ_{j<k} a[r·astride+j]·w[j·wstride+i] for its rows
// and i < cols, a multiple of the register's lanes.
type wsumKernel[W uint16 | float32] func(a *float32, astride int, w *W, wstride int, out *float32, ostride int, k int, cols int)

// wsumKernels are one instruction set's weighted-sum kernels: rows rows at
// once, and one.
type wsumKernels[W uint16 | float32] struct {
	rows, lanes int
	many, one   wsumKernel[W]
}

// gemmKernel is a GEMM tile kernel (gen_amd64.go, gemmTile): out[t·ostride+r]
// = Σ_{i<n} w[r·wstride+i]·x[t·xstride+i] for its 4 rows and its tokens.
type gemmKernel[W uint16 | float32] func(w *W, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

var (
	kBF16 = &kernels[uint16]{"BF16", func() bool { return useAVX2 }, bf16ToF32, widenBF16, dotBF16Go,
		dotBF16AVX2, gemv4BF16AVX2, gemm4x3BF16AVX2, gemm4x6BF16AVX512,
		wsumKernels[uint16]{3, 8, weightedSums3BF16AVX2, weightedSums1BF16AVX2},
		wsumKernels[uint16]{6, 16, weightedSums6BF16AVX512, weightedSums1BF16AVX512}}
	kF16 = &kernels[uint16]{"F16", func() bool { return useAVX2 && useF16C }, f16ToF32, widenF16, dotF16Go,
		dotF16AVX2, gemv4F16AVX2, gemm4x3F16AVX2, gemm4x6F16AVX512,
		wsumKernels[uint16]{3, 8, weightedSums3F16AVX2, weightedSums1F16AVX2},
		wsumKernels[uint16]{6, 16, weightedSums6F16AVX512, weightedSums1F16AVX512}}
	kF32 = &kernels[float32]{"F32", func() bool { return useAVX2 }, func(v float32) float32 { return v }, widenF32, dotF32Go,
		dotF32AVX2, gemv4F32AVX2, gemm4x3F32AVX2, gemm4x6F32AVX512,
		wsumKernels[float32]{3, 8, weightedSums3F32AVX2, weightedSums1F32AVX2},
		wsumKernels[float32]{6, 16, weightedSums6F32AVX512, weightedSums1F32AVX512}}
)

// DotBF16 returns Σ w[i]·x[i] with w in bfloat16, accumulated in float32.
// It panics if len(w) != len(x).
func DotBF16(w []uint16, x []float32) float32 { return dot(kBF16, w, x) }

// DotF16 returns Σ w[i]·x[i] with w in IEEE 754 half precision, accumulated
// in float32. It panics if len(w) != len(x).
func DotF16(w []uint16, x []float32) float32 { return dot(kF16, w, x) }

// DotF32 returns Σ w[i]·x[i] in float32. It panics if len(w) != len(x).
func DotF32(w, x []float32) float32 { return dot(kF32, w, x) }

// GemvBF16 sets out[r] = Σ_i w[r*cols+i]·x[i] for every row r < len(out):
// the product of the bfloat16 matrix w (len(out) rows of cols) and the vector
// x, one decode step of a Linear layer. With AVX-512 and rows of a multiple
// of 128 weights up to 4096 (every Llama shape but the 8192-wide down
// projection) the rows are computed one after another,
// reading the weights as one stream; otherwise four or eight rows per pass,
// x loaded once per several rows. It panics unless
// len(x) == cols and len(w) == len(out)*cols. To use several cores, call it
// on row slices: GemvBF16(w[r0*cols:r1*cols], x, out[r0:r1], cols), or pack x
// once and call GemvBF16Packed on the slices.
func GemvBF16(w []uint16, x, out []float32, cols int) {
	checkGemv("GemvBF16", len(w), len(x), len(out), cols)
	p := packPool.Get().(*PackedX)
	gemvBF16Packed("GemvBF16", w, p.Pack(x), out, cols)
	packPool.Put(p)
}

// packPool holds GemvBF16's packed copies of x.
var packPool = sync.Pool{New: func() any { return new(PackedX) }}

// PackedX is an activation vector rearranged for the bfloat16 GEMV kernels,
// which widen a register of bf16 weights into its even- and its odd-indexed
// elements (a shift and a mask) rather than in order: x is rearranged to
// match once, instead of the weights on every row. GemvBF16 packs x itself on
// every call; a caller splitting one GEMV over goroutines packs it once and
// hands the same PackedX to each GemvBF16Packed. The zero value is empty;
// Pack reuses its storage.
type PackedX struct{ v []float32 }

// packBlock is the block the packed layout permutes within: one 64-byte cache
// line of bf16 weights, a 512-bit register.
const packBlock = 32

// Pack sets p to x rearranged, and returns p: in each whole block of 32
// elements the 16 at even indices, then the 16 at odd ones; the last
// len(x)%32 elements stay in order.
func (p *PackedX) Pack(x []float32) *PackedX {
	if cap(p.v) < len(x) {
		p.v = make([]float32, len(x))
	}
	v := p.v[:len(x)]
	n := len(x) &^ (packBlock - 1)
	for b := 0; b < n; b += packBlock {
		xb, vb := x[b:b+packBlock], v[b:b+packBlock]
		for i := range packBlock / 2 {
			vb[i], vb[packBlock/2+i] = xb[2*i], xb[2*i+1]
		}
	}
	copy(v[n:], x[n:])
	p.v = v
	return p
}

// rowsMaxCols is the widest row the single-stream GEMV kernel takes. It
// reads all of x for every row; past 4096 weights (16 KiB of packed x) x no
// longer stays in L1 beside the streaming weights, and the 8-row kernel,
// which reads x once per eight rows, was faster: Llama's down projection
// (8192 wide) took 11.9–14.5 ms per token against 13.9–17.7 ms with the
// single-stream kernel (interleaved rounds on the 2-core EPYC).
const rowsMaxCols = 4096

// Len returns the length of the vector p holds.
func (p *PackedX) Len() int { return len(p.v) }

// GemvBF16Packed is GemvBF16 with x packed by PackedX.Pack. It panics unless
// x.Len() == cols and len(w) == len(out)*cols.
func GemvBF16Packed(w []uint16, x *PackedX, out []float32, cols int) {
	gemvBF16Packed("GemvBF16Packed", w, x, out, cols)
}

func gemvBF16Packed(fn string, w []uint16, x *PackedX, out []float32, cols int) {
	checkGemv(fn, len(w), x.Len(), len(out), cols)
	xp, rows := x.v, len(out)
	r := 0
	if n := cols &^ (packBlock - 1); n > 0 && useAVX2 {
		// The tail of each row, in order in x too, goes to the unpacked dot.
		tails := func(r, k int) {
			if n < cols {
				for j := r; j < r+k; j++ {
					out[j] += dotUnchecked(kBF16, w[j*cols+n:(j+1)*cols], xp[n:])
				}
			}
		}
		gemv4 := gemv4BF16PackedAVX2
		if useAVX512 && n == cols && cols%128 == 0 && cols <= rowsMaxCols && rows > 0 {
			// Whole rows of whole 4-line blocks, x small enough to stay in
			// L1: one row at a time, one sequential stream (gen_amd64.go,
			// gemvRowsPacked).
			gemvRowsBF16PackedAVX512(&w[0], &xp[0], cols, &out[0], rows)
			return
		}
		if useAVX512 {
			gemv4 = gemv4BF16PackedAVX512
			for ; r+8 <= rows; r += 8 {
				gemv8BF16PackedAVX512(&w[r*cols], cols, &xp[0], n, &out[r])
				tails(r, 8)
			}
		}
		for ; r+4 <= rows; r += 4 {
			gemv4(&w[r*cols], cols, &xp[0], n, &out[r])
			tails(r, 4)
		}
	}
	for ; r < rows; r++ {
		out[r] = dotBF16PackedGo(w[r*cols:(r+1)*cols], xp)
	}
}

func checkGemv(fn string, lw, lx, lout, cols int) {
	if cols < 0 || lx != cols || lw != lout*cols {
		panic(fmt.Sprintf("simd: %s: len(w) = %d, len(x) = %d, len(out) = %d, cols = %d; want len(x) == cols, len(w) == len(out)*cols",
			fn, lw, lx, lout, cols))
	}
}

// GemvF16 is GemvBF16 for IEEE 754 half-precision weights.
func GemvF16(w []uint16, x, out []float32, cols int) { gemv(kF16, "GemvF16", w, x, out, cols) }

// GemvF32 is GemvBF16 for float32 weights.
func GemvF32(w, x, out []float32, cols int) { gemv(kF32, "GemvF32", w, x, out, cols) }

// GemmF16 sets out[t*rows+r] = Σ_i x[t*cols+i]·w[r*cols+i] for n tokens
// (rows of x) and rows rows of the half-precision matrix w: X·Wᵀ, a prefill
// step of a Linear layer, with x in float32. Unlike n calls of GemvF16, which
// each stream all of w from memory, it works on tiles of 4 rows × 3 tokens
// (6 with AVX-512) over blocks of tokens that stay in cache, so each weight
// row is read from memory once per block and the work is bound by
// arithmetic, not bandwidth. It panics unless len(w) == rows*cols,
// len(x) == n*cols and len(out) == n*rows.
func GemmF16(w []uint16, x, out []float32, n, rows, cols int) {
	gemmRows(kF16, "GemmF16", w, x, out, n, rows, cols, 0, rows)
}

// GemmF16Rows is GemmF16 restricted to the rows r0 ≤ r < r1: it writes only
// out[t*rows+r] for those r, so goroutines given disjoint row ranges can fill
// one out together (ranges starting at multiples of 4 run fastest). It panics
// on the conditions GemmF16 does or unless 0 ≤ r0 ≤ r1 ≤ rows.
func GemmF16Rows(w []uint16, x, out []float32, n, rows, cols, r0, r1 int) {
	gemmRows(kF16, "GemmF16Rows", w, x, out, n, rows, cols, r0, r1)
}

// GemmF32 is GemmF16 for float32 weights.
func GemmF32(w, x, out []float32, n, rows, cols int) {
	gemmRows(kF32, "GemmF32", w, x, out, n, rows, cols, 0, rows)
}

// GemmF32Rows is GemmF16Rows for float32 weights.
func GemmF32Rows(w, x, out []float32, n, rows, cols, r0, r1 int) {
	gemmRows(kF32, "GemmF32Rows", w, x, out, n, rows, cols, r0, r1)
}

func dot[W uint16 | float32](k *kernels[W], w []W, x []float32) float32 {
	if len(w) != len(x) {
		panic(fmt.Sprintf("simd: Dot%s: len(w) = %d, len(x) = %d; want equal", k.name, len(w), len(x)))
	}
	return dotUnchecked(k, w, x)
}

// dotUnchecked needs len(x) >= len(w).
func dotUnchecked[W uint16 | float32](k *kernels[W], w []W, x []float32) float32 {
	n8 := len(w) &^ 7
	if n8 == 0 || !k.asm() {
		return k.dotGo(w, x)
	}
	s := k.dot(&w[0], &x[0], n8)
	for i := n8; i < len(w); i++ {
		s += k.widen(w[i]) * x[i]
	}
	return s
}

func gemv[W uint16 | float32](k *kernels[W], fn string, w []W, x, out []float32, cols int) {
	checkGemv(fn, len(w), len(x), len(out), cols)
	gemvStrideUnchecked(k, w, cols, x, out)
}

// tail is the scalar dot product for the last cols%8 elements.
func tail[W uint16 | float32](k *kernels[W], w []W, x []float32) float32 {
	var s float32
	for i, v := range w {
		s += k.widen(v) * x[i]
	}
	return s
}

// tokenBlock is how many tokens of x GEMM keeps hot in cache while it sweeps
// the weight rows: about 512 KiB of activations (half of a 1 MiB L2, leaving
// room for the 4 weight rows in flight), a multiple of the tile's tokens.
func tokenBlock(cols, tile int) int {
	tb := (512 << 10) / (4 * max(cols, 1))
	return max(tile, tb/tile*tile)
}

// gemmRows is the GEMM on float32 x for rows r0 ≤ r < r1 of w, the rows of
// w and of x each cols long and packed (gemmStrided).
func gemmRows[W uint16 | float32](k *kernels[W], fn string, w []W, x, out []float32, n, rows, cols, r0, r1 int) {
	if n < 0 || rows < 0 || cols < 0 || len(w) != rows*cols || len(x) != n*cols || len(out) != n*rows {
		panic(fmt.Sprintf("simd: %s: len(w) = %d, len(x) = %d, len(out) = %d, n = %d, rows = %d, cols = %d; want len(w) == rows*cols, len(x) == n*cols, len(out) == n*rows",
			fn, len(w), len(x), len(out), n, rows, cols))
	}
	if r0 < 0 || r0 > r1 || r1 > rows {
		panic(fmt.Sprintf("simd: %s: rows [%d, %d) outside [0, %d)", fn, r0, r1, rows))
	}
	gemmStrided(k, w, cols, x, cols, out, rows, n, cols, r0, r1)
}

// gemmStrided sets out[t·ostride+r] = Σ_{i<cols} x[t·xstride+i]·w[r·wstride+i]
// for t < n and r0 ≤ r < r1, its caller having checked that the slices hold
// every row: tiles of 4 rows × 3 tokens (AVX2) or 6 (AVX-512), the tokens a
// tile leaves over by the 4-row GEMV, the rows by dot products; columns past
// the tile's step by scalar tails.
func gemmStrided[W uint16 | float32](k *kernels[W], w []W, wstride int, x []float32, xstride int, out []float32, ostride, n, cols, r0, r1 int) {
	n8 := cols &^ 7
	useAsm := n8 > 0 && k.asm()
	tile, nt, gemm := 3, n8, k.gemm
	if useAsm && useAVX512 && cols >= 16 {
		tile, nt, gemm = 6, cols&^15, k.gemm512
	}
	tb := tokenBlock(cols, tile)
	for t0 := 0; t0 < n; t0 += tb {
		t1 := min(n, t0+tb)
		r := r0
		for ; useAsm && r+4 <= r1; r += 4 {
			wr := w[r*wstride : (r+3)*wstride+cols]
			t := t0
			for ; t+tile <= t1; t += tile {
				_ = x[(t+tile-1)*xstride+cols-1] // the tile's last row is in x
				gemm(&wr[0], wstride, &x[t*xstride], xstride, nt, &out[t*ostride+r], ostride)
				if nt < cols {
					for dt := range tile {
						xt := x[(t+dt)*xstride+nt : (t+dt)*xstride+cols]
						for j := range 4 {
							out[(t+dt)*ostride+r+j] += tail(k, wr[j*wstride+nt:j*wstride+cols], xt)
						}
					}
				}
			}
			for ; t < t1; t++ {
				xt := x[t*xstride : t*xstride+cols]
				k.gemv4(&wr[0], wstride, &xt[0], n8, &out[t*ostride+r])
				for j := range 4 {
					out[t*ostride+r+j] += tail(k, wr[j*wstride+n8:j*wstride+cols], xt[n8:])
				}
			}
		}
		for ; r < r1; r++ {
			wr := w[r*wstride : r*wstride+cols]
			for t := t0; t < t1; t++ {
				out[t*ostride+r] = dotUnchecked(k, wr, x[t*xstride:t*xstride+cols])
			}
		}
	}
}
