package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// path is one implementation the exported functions can dispatch to.
type path struct {
	name                     string
	avx2, f16c, avx512, bf16 bool
}

// paths returns the portable path and, where this CPU has them, the AVX2
// assembly, the AVX-512 kernels beside it and the VDPBF16PS GEMM on top.
func paths() []path {
	ps := []path{{name: "go"}}
	if hwAVX2 {
		ps = append(ps, path{"asm", true, hwF16C, false, false})
	}
	if hwAVX512 {
		ps = append(ps, path{"avx512", true, hwF16C, true, false})
	}
	if hwAVX512BF16 {
		ps = append(ps, path{"avx512bf16", true, hwF16C, true, true})
	}
	return ps
}

var hwAVX2, hwF16C, hwAVX512, hwAVX512BF16 = useAVX2, useF16C, useAVX512, useAVX512BF16

// with runs f with the dispatch forced to p.
func with(t testing.TB, p path, f func()) {
	t.Helper()
	useAVX2, useF16C, useAVX512, useAVX512BF16 = p.avx2, p.f16c, p.avx512, p.bf16
	defer func() { useAVX2, useF16C, useAVX512, useAVX512BF16 = hwAVX2, hwF16C, hwAVX512, hwAVX512BF16 }()
	f()
}

// lengths covers empty input, everything below one vector, the 8/16/32
// multiples that pick the assembly's loops, tails on each, and Llama sizes.
var lengths = []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 40, 47, 48, 63, 64, 65, 100, 2048 + 3, 8192}

// wtypeT describes one weight type for the tests: raw is a []uint16 or
// []float32 of weights, vals the same weights as float64.
type wtypeT struct {
	name  string
	avail func(path) bool
	gen   func(r *rand.Rand, n int) (raw any, vals []float64)
	// roundsX says the GEMM rounds x to bfloat16 first.
	roundsX bool
	dot     func(raw any, x []float32) float32
	gemv    func(raw any, x, out []float32, cols int)
	gemmR   func(raw any, x, out []float32, n, rows, cols, r0, r1 int)
	// gemvS, wsum, gemmS and wsums call the strided kernels (stride.go).
	gemvS func(raw any, stride int, x, out []float32)
	wsum  func(a []float32, raw any, stride int, out []float32)
	gemmS func(raw any, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int)
	wsums func(a []float32, astride int, raw any, wstride int, out []float32, ostride int, k []int, cols int)
}

// wfuncs are one weight type's exported functions.
type wfuncs[W uint16 | float32] struct {
	dot   func(w []W, x []float32) float32
	gemv  func(w []W, x, out []float32, cols int)
	gemmR func(w []W, x, out []float32, n, rows, cols, r0, r1 int)
	gemvS func(w []W, stride int, x, out []float32)
	wsum  func(a []float32, w []W, stride int, out []float32)
	gemmS func(w []W, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int)
	wsums func(a []float32, astride int, w []W, wstride int, out []float32, ostride int, k []int, cols int)
}

// wtype builds a wtypeT from a weight generator (one random weight), its
// widening and its functions.
func wtype[W uint16 | float32](name string, avail func(path) bool, one func(*rand.Rand) W, widen func(W) float32, roundsX bool, f wfuncs[W]) wtypeT {
	return wtypeT{
		name: name, avail: avail, roundsX: roundsX,
		gen: func(r *rand.Rand, n int) (any, []float64) {
			w, v := make([]W, n), make([]float64, n)
			for i := range w {
				w[i] = one(r)
				v[i] = float64(widen(w[i]))
			}
			return w, v
		},
		dot:  func(w any, x []float32) float32 { return f.dot(w.([]W), x) },
		gemv: func(w any, x, out []float32, cols int) { f.gemv(w.([]W), x, out, cols) },
		gemmR: func(w any, x, out []float32, n, rows, cols, r0, r1 int) {
			f.gemmR(w.([]W), x, out, n, rows, cols, r0, r1)
		},
		gemvS: func(w any, stride int, x, out []float32) { f.gemvS(w.([]W), stride, x, out) },
		wsum:  func(a []float32, w any, stride int, out []float32) { f.wsum(a, w.([]W), stride, out) },
		gemmS: func(w any, wstride int, x []float32, xstride int, out []float32, ostride, n, rows, cols int) {
			f.gemmS(w.([]W), wstride, x, xstride, out, ostride, n, rows, cols)
		},
		wsums: func(a []float32, astride int, w any, wstride int, out []float32, ostride int, k []int, cols int) {
			f.wsums(a, astride, w.([]W), wstride, out, ostride, k, cols)
		},
	}
}

func always(path) bool { return true }

var wtypes = []wtypeT{
	wtype("BF16", always, func(r *rand.Rand) uint16 { return uint16(math.Float32bits(float32(r.NormFloat64())) >> 16) },
		bf16ToF32, true, wfuncs[uint16]{DotBF16, GemvBF16, gemmBF16Rows, GemvBF16Stride, WeightedSumBF16, GemmBF16Stride, WeightedSumsBF16}),
	// Exponents 1..30 cover every finite normal magnitude; a few subnormals
	// (exponent 0) too.
	wtype("F16", func(p path) bool { return !p.avx2 || p.f16c },
		func(r *rand.Rand) uint16 {
			return uint16(r.IntN(2))<<15 | uint16(r.IntN(31))<<10 | uint16(r.IntN(1024))
		},
		f16ToF32, false, wfuncs[uint16]{DotF16, GemvF16, GemmF16Rows, GemvF16Stride, WeightedSumF16, GemmF16Stride, WeightedSumsF16}),
	wtype("F32", always, func(r *rand.Rand) float32 { return float32(r.NormFloat64()) },
		func(v float32) float32 { return v }, false, wfuncs[float32]{DotF32, GemvF32, GemmF32Rows, GemvF32Stride, WeightedSumF32, GemmF32Stride, WeightedSumsF32}),
}

// eachPathType runs f as a subtest for every path and weight type this CPU
// can run, the dispatch forced to the path, with a random source seeded from
// seed and the type.
func eachPathType(t *testing.T, seed uint64, f func(t *testing.T, wt wtypeT, r *rand.Rand)) {
	for _, p := range paths() {
		for _, wt := range wtypes {
			if !wt.avail(p) {
				continue
			}
			t.Run(p.name+"/"+wt.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, uint64(len(wt.name))))
				with(t, p, func() { f(t, wt, r) })
			})
		}
	}
}

// gemmBF16Rows packs x and runs GemmBF16Packed on rows [r0, r1), as a caller
// splitting the rows over goroutines does for each of its ranges.
func gemmBF16Rows(w []uint16, x, out []float32, n, rows, cols, r0, r1 int) {
	GemmBF16Packed(w, new(PackedBatch).Pack(x, n, cols), out, rows, r0, r1)
}

func randX(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// check compares got with the exact dot product of w and x. Every product is
// exact in float64 and every float32 FMA or add rounds once, so any order of
// summing n terms in float32 is within n·u·Σ|w_i·x_i| of the exact sum
// (Higham, Accuracy and Stability, §3.1), u = 2⁻²⁴; one more u for the final
// tail adds. The bound is what a different summation order may cost, so the
// portable and the assembly paths can both be held to it.
func check(t *testing.T, what string, got float32, w []float64, x []float32) {
	t.Helper()
	checkRel(t, what, got, w, x, 0)
}

// checkRel is check for a result computed from x with each element first
// rounded to within rel·|x_i| (bfloat16: rel = 2⁻⁸, the package doc's
// bound): the rounding moves the exact sum by at most rel·Σ|w_i·x_i| and
// each term summed by the factor 1+rel.
func checkRel(t *testing.T, what string, got float32, w []float64, x []float32, rel float64) {
	t.Helper()
	var exact, abs float64
	for i := range w {
		p := w[i] * float64(x[i])
		exact += p
		abs += math.Abs(p)
	}
	tol := (rel + float64(len(w)+2)*0x1p-24*(1+rel)) * abs
	if d := math.Abs(float64(got) - exact); !(d <= tol) {
		t.Errorf("%s = %v, exact %v: error %.3g > bound %.3g", what, got, exact, d, tol)
	}
}

// rounded returns x rounded to bfloat16, as the bf16 GEMM's x̃.
func rounded(x []float32) []float32 {
	xr := make([]float32, len(x))
	roundBF16(x, xr)
	return xr
}

func TestDot(t *testing.T) {
	eachPathType(t, 1, func(t *testing.T, wt wtypeT, r *rand.Rand) {
		for _, n := range lengths {
			raw, w := wt.gen(r, n)
			x := randX(r, n)
			check(t, fmt.Sprintf("n=%d", n), wt.dot(raw, x), w, x)
		}
	})
}

// TestDotMatchesGo holds the assembly to the portable code directly too: two
// float32 sums of the same n terms differ by at most twice the bound.
func TestDotMatchesGo(t *testing.T) {
	if !hwAVX2 {
		t.Skip("no AVX2+FMA on this CPU")
	}
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range lengths {
		raw, w := bfRand(r, n)
		x := randX(r, n)
		var asm, ref float32
		with(t, paths()[1], func() { asm = DotBF16(raw, x) })
		with(t, paths()[0], func() { ref = DotBF16(raw, x) })
		var abs float64
		for i := range w {
			abs += math.Abs(float64(w[i]) * float64(x[i]))
		}
		if d := math.Abs(float64(asm - ref)); d > 2*float64(n+2)*0x1p-24*abs {
			t.Errorf("n=%d: asm %v, go %v", n, asm, ref)
		}
	}
}

func bfRand(r *rand.Rand, n int) ([]uint16, []float32) {
	raw, v := wtypes[0].gen(r, n)
	w := make([]float32, n)
	for i := range v {
		w[i] = float32(v[i])
	}
	return raw.([]uint16), w
}

var shapes = [][2]int{{0, 0}, {0, 5}, {3, 0}, {1, 1}, {1, 8}, {3, 7}, {4, 8}, {4, 16}, {5, 17}, {8, 24}, {9, 31}, {13, 64}, {7, 2051}, {12, 40},
	{8, 32}, {21, 96}, {16, 2048 + 32 + 13}, {1, 128}, {5, 256}, {11, 2048}, {9, 4096}, {9, 4096 + 128}}

func TestGemv(t *testing.T) {
	eachPathType(t, 3, func(t *testing.T, wt wtypeT, r *rand.Rand) {
		for _, s := range shapes {
			rows, cols := s[0], s[1]
			raw, w := wt.gen(r, rows*cols)
			x := randX(r, cols)
			out := make([]float32, rows)
			for i := range out {
				out[i] = float32(math.NaN()) // must be overwritten
			}
			wt.gemv(raw, x, out, cols)
			for i := range out {
				check(t, fmt.Sprintf("%dx%d row %d", rows, cols, i), out[i], w[i*cols:(i+1)*cols], x)
			}
		}
	})
}

// TestPack checks the packed layout: in each whole block of 32, the even
// indices then the odd; the rest in order.
func TestPack(t *testing.T) {
	for _, n := range []int{0, 5, 32, 64 + 7} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i)
		}
		var p PackedX
		p.Pack(make([]float32, 2*n+40)) // reused storage must not leak through
		p.Pack(x)
		if p.Len() != n {
			t.Fatalf("n=%d: Len() = %d", n, p.Len())
		}
		for i, v := range p.v {
			want := i
			if b, k := i&^31, i&31; b+32 <= n {
				want = b + 2*k
				if k >= 16 {
					want = b + 2*(k-16) + 1
				}
			}
			if v != float32(want) {
				t.Errorf("n=%d: packed[%d] = x[%v], want x[%d]", n, i, v, want)
			}
		}
	}
}

// TestGemvBF16Packed splits rows unevenly over one packed x, as the cpu
// device's linear does, so row counts that are not a multiple of 8 or 4 reach
// the 4-row and single-row paths.
func TestGemvBF16Packed(t *testing.T) {
	for _, p := range paths() {
		t.Run(p.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(6, 6))
			with(t, p, func() {
				for _, s := range shapes {
					rows, cols := s[0], s[1]
					raw, w := wtypes[0].gen(r, rows*cols)
					wb := raw.([]uint16)
					x := randX(r, cols)
					var xp PackedX
					xp.Pack(x)
					out := make([]float32, rows)
					for i := range out {
						out[i] = float32(math.NaN())
					}
					for r0 := 0; r0 < rows; {
						r1 := min(rows, r0+1+r0%13)
						GemvBF16Packed(wb[r0*cols:r1*cols], &xp, out[r0:r1], cols)
						r0 = r1
					}
					for i := range out {
						check(t, fmt.Sprintf("%dx%d row %d", rows, cols, i), out[i], w[i*cols:(i+1)*cols], x)
					}
				}
			})
		})
	}
}

// TestGemm runs every GEMM on every path over the shapes, token counts that
// fill the tile kernels' and the VDPBF16PS kernel's groups in every way
// (1…6, then 7 = 4+3, 11 = 6+5, 13 = 5+4+4), and unaligned row splits. The
// bf16 GEMM is held to check's bound on x̃ (x rounded, what it multiplies)
// and to the package doc's bound on x itself.
func TestGemm(t *testing.T) {
	tokens := []int{0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13}
	eachPathType(t, 4, func(t *testing.T, wt wtypeT, r *rand.Rand) {
		for _, s := range append(shapes, [2]int{5, 2051}) {
			rows, cols := s[0], s[1]
			ns := tokens
			if cols == 2051 && rows == 5 {
				ns = []int{max(tokenBlock(cols, 3), tokenBlock(cols, 6)) + 4} // crosses a token block
			}
			for _, n := range ns {
				raw, w := wt.gen(r, rows*cols)
				x := randX(r, n*cols)
				xr := x
				if wt.roundsX {
					xr = rounded(x)
				}
				// Whole matrix, then a split into unaligned row ranges.
				splits := [][]int{{0, rows}, {0, min(1, rows), min(6, rows), rows}}
				for _, sp := range splits {
					out := make([]float32, n*rows)
					for i := range out {
						out[i] = float32(math.NaN())
					}
					for k := 0; k+1 < len(sp); k++ {
						wt.gemmR(raw, x, out, n, rows, cols, sp[k], sp[k+1])
					}
					for tk := range n {
						for i := range rows {
							what := fmt.Sprintf("n=%d %dx%d split %v out[%d,%d]", n, rows, cols, sp, tk, i)
							got, wi := out[tk*rows+i], w[i*cols:(i+1)*cols]
							check(t, what, got, wi, xr[tk*cols:(tk+1)*cols])
							if wt.roundsX {
								checkRel(t, what+" against x", got, wi, x[tk*cols:(tk+1)*cols], 0x1p-8)
							}
						}
					}
				}
			}
		}
	})
}

// TestGemmRowsWritesOnlyItsRows checks that a row range leaves the rest of out
// alone, which is what lets goroutines share one out.
func TestGemmRowsWritesOnlyItsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const n, rows, cols = 7, 13, 40
	w, _ := bfRand(r, rows*cols)
	x := randX(r, n*cols)
	for _, p := range paths() {
		with(t, p, func() {
			out := make([]float32, n*rows)
			for i := range out {
				out[i] = -1234
			}
			gemmBF16Rows(w, x, out, n, rows, cols, 2, 9)
			for tk := range n {
				for i := range rows {
					v := out[tk*rows+i]
					if inside := i >= 2 && i < 9; inside == (v == -1234) {
						t.Errorf("%s: out[%d,%d] = %v (row range [2,9))", p.name, tk, i, v)
					}
				}
			}
		})
	}
}

// TestSpecialValues: NaN and ±Inf anywhere, in the vector body or the tail,
// reach the result.
func TestSpecialValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	bfNaN, bfInf := uint16(0x7fc0), uint16(0x7f80)
	for _, p := range paths() {
		with(t, p, func() {
			for _, n := range []int{1, 8, 19, 64, 67} {
				for _, pos := range []int{0, n / 2, n - 1} {
					w := make([]uint16, n)
					x := make([]float32, n)
					for i := range w {
						w[i], x[i] = 0x3f80, 1 // 1.0
					}
					w[pos] = bfNaN
					if got := DotBF16(w, x); !math.IsNaN(float64(got)) {
						t.Errorf("%s n=%d: NaN weight at %d gave %v", p.name, n, pos, got)
					}
					w[pos] = bfInf
					if got := DotBF16(w, x); !math.IsInf(float64(got), 1) {
						t.Errorf("%s n=%d: +Inf weight at %d gave %v", p.name, n, pos, got)
					}
					w[pos], x[pos] = 0, inf // 0·Inf = NaN
					if got := DotBF16(w, x); !math.IsNaN(float64(got)) {
						t.Errorf("%s n=%d: 0·Inf at %d gave %v", p.name, n, pos, got)
					}
					w[pos], x[pos] = bfNaN, 1
					out := make([]float32, 1)
					GemvBF16(w, x, out, n)
					if !math.IsNaN(float64(out[0])) {
						t.Errorf("%s n=%d: GEMV with NaN weight at %d gave %v", p.name, n, pos, out[0])
					}
					x[pos] = -inf
					w[pos] = 0x3f80
					GemvBF16(w, x, out, n)
					if !math.IsInf(float64(out[0]), -1) {
						t.Errorf("%s n=%d: -Inf in x at %d gave %v", p.name, n, pos, out[0])
					}
					// GEMM, 4 rows (the tile kernel) × 5 tokens, NaN in every row.
					const rows, toks = 4, 5
					gw := make([]float32, rows*n)
					gx := make([]float32, toks*n)
					for i := range gw {
						gw[i] = 1
					}
					for i := range gx {
						gx[i] = 2
					}
					for r := range rows {
						gw[r*n+pos] = nan
					}
					gout := make([]float32, toks*rows)
					GemmF32(gw, gx, gout, toks, rows, n)
					for i, v := range gout {
						if !math.IsNaN(float64(v)) {
							t.Errorf("%s n=%d: GEMM with NaN weight at %d: out[%d] = %v", p.name, n, pos, i, v)
						}
					}
				}
			}
		})
	}
}

// TestWidenExhaustive checks every one of the 65536 bit patterns: the Go
// widening of bf16 and f16 against the definition, and the assembly's
// (VPMOVZXWD+VPSLLD, VCVTPH2PS) against the Go one.
func TestWidenExhaustive(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		// binary16: sign, 5-bit exponent (bias 15), 10-bit mantissa.
		e, m := int(h>>10&0x1f), float64(h&0x3ff)
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(1)
		case e == 0x1f:
			want = math.NaN()
		case e == 0:
			want = math.Ldexp(m, -24)
		default:
			want = math.Ldexp(1024+m, e-25)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		got := f16ToF32(h)
		if !(float64(got) == want || math.IsNaN(want) && math.IsNaN(float64(got))) || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !hwAVX2 {
		t.Skip("no AVX2+FMA on this CPU")
	}
	// The assembly widens inside an FMA: w·1 + 0 keeps every value except the
	// sign of zero and NaN payloads, which the comparison allows for.
	one := []float32{1, 0, 0, 0, 0, 0, 0, 0}
	w := make([]uint16, 8)
	for h := range 1 << 16 {
		w[0] = uint16(h)
		for _, c := range []struct {
			name      string
			asm, want float32
			ok        bool
		}{
			{"bf16", dotBF16AVX2(&w[0], &one[0], 8), bf16ToF32(w[0]), true},
			{"f16", func() float32 {
				if !hwF16C {
					return f16ToF32(w[0])
				}
				return dotF16AVX2(&w[0], &one[0], 8)
			}(), f16ToF32(w[0]), true},
		} {
			if !(c.asm == c.want || math.IsNaN(float64(c.asm)) && math.IsNaN(float64(c.want))) {
				t.Fatalf("%s %#04x: asm %v, go %v", c.name, h, c.asm, c.want)
			}
		}
	}
}

// TestPackedWidenExhaustive runs every bf16 bit pattern through the packed
// GEMV kernels at an even and an odd index (the shift and the mask), in a row
// of ones times x of ones but for that weight, which is then the result.
func TestPackedWidenExhaustive(t *testing.T) {
	const cols = 32
	x := make([]float32, cols)
	for i := range x {
		x[i] = 1
	}
	var xp PackedX
	xp.Pack(x)
	for _, p := range paths()[1:] {
		with(t, p, func() {
			w := make([]uint16, 8*cols)
			out := make([]float32, 8)
			for h := range 1 << 16 {
				for _, j := range []int{0, 1, 30, 31} {
					for r := range 8 {
						w[r*cols+j] = uint16(h)
					}
					GemvBF16Packed(w, &xp, out, cols)
					for r := range 8 {
						w[r*cols+j] = 0
					}
					want := bf16ToF32(uint16(h))
					for r, got := range out {
						if !(got == want || math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
							t.Fatalf("%s: %#04x at index %d of row %d: got %v, want %v", p.name, h, j, r, got, want)
						}
					}
				}
			}
		})
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	cases := map[string]func(){
		"DotBF16":  func() { DotBF16(make([]uint16, 3), make([]float32, 4)) },
		"DotF16":   func() { DotF16(make([]uint16, 4), make([]float32, 3)) },
		"DotF32":   func() { DotF32(make([]float32, 4), make([]float32, 3)) },
		"GemvBF16": func() { GemvBF16(make([]uint16, 15), make([]float32, 4), make([]float32, 4), 4) },
		"GemvF16":  func() { GemvF16(make([]uint16, 16), make([]float32, 3), make([]float32, 4), 4) },
		"GemvBF16Packed": func() {
			GemvBF16Packed(make([]uint16, 16), new(PackedX).Pack(make([]float32, 3)), make([]float32, 4), 4)
		},
		"GemvF32":  func() { GemvF32(make([]float32, 16), make([]float32, 4), make([]float32, 4), -4) },
		"GemmBF16": func() { GemmBF16(make([]uint16, 16), make([]float32, 8), make([]float32, 7), 2, 4, 4) },
		"GemmF16":  func() { GemmF16(make([]uint16, 16), make([]float32, 7), make([]float32, 8), 2, 4, 4) },
		"GemmF32":  func() { GemmF32(make([]float32, 15), make([]float32, 8), make([]float32, 8), 2, 4, 4) },
		"GemmBF16Packed": func() {
			GemmBF16Packed(make([]uint16, 16), new(PackedBatch).Pack(make([]float32, 8), 2, 4), make([]float32, 8), 4, 3, 5)
		},
		"PackedBatch.Pack": func() { new(PackedBatch).Pack(make([]float32, 8), 3, 4) },
		"GemmF16Rows":      func() { GemmF16Rows(make([]uint16, 16), make([]float32, 8), make([]float32, 8), 2, 4, 4, 3, 2) },
		"GemmF32Rows":      func() { GemmF32Rows(make([]float32, 16), make([]float32, 8), make([]float32, 8), 2, 4, 4, -1, 2) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "simd: "+name+":") {
					t.Errorf("panic %q, want one naming %s", msg, name)
				}
			}()
			f()
		})
	}
}

// FuzzDotBF16 compares the assembly with the portable code on random lengths
// and data; each input is a seed and a length.
func FuzzDotBF16(f *testing.F) {
	for _, n := range lengths {
		f.Add(uint64(n), uint16(n))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint16) {
		r := rand.New(rand.NewPCG(seed, 7))
		raw, w := bfRand(r, int(n))
		x := randX(r, int(n))
		w64 := make([]float64, n)
		for i := range w {
			w64[i] = float64(w[i])
		}
		for _, p := range paths() {
			with(t, p, func() { check(t, p.name, DotBF16(raw, x), w64, x) })
		}
	})
}

// FuzzGemvBF16 does the same for the 4-row kernel on random shapes.
func FuzzGemvBF16(f *testing.F) {
	for _, s := range shapes {
		f.Add(uint64(s[0]), uint8(s[0]), uint16(s[1]))
	}
	f.Fuzz(func(t *testing.T, seed uint64, rows uint8, cols uint16) {
		cols %= 4096
		r := rand.New(rand.NewPCG(seed, 8))
		raw, w := bfRand(r, int(rows)*int(cols))
		x := randX(r, int(cols))
		for _, p := range paths() {
			with(t, p, func() {
				out := make([]float32, rows)
				GemvBF16(raw, x, out, int(cols))
				for i := range out {
					wi := make([]float64, cols)
					for j := range wi {
						wi[j] = float64(w[i*int(cols)+j])
					}
					check(t, fmt.Sprintf("%s row %d", p.name, i), out[i], wi, x)
				}
			})
		}
	})
}

// TestStride checks the strided kernels over rows a stride apart (a KV
// cache's rows for one head), with strides equal to and wider than the row,
// row lengths on and off the assembly's multiples (8 for the GEMV, 64 for
// the weighted sum), and the row counts of the 4-row GEMV's tail.
func TestStride(t *testing.T) {
	cases := []struct{ rows, cols, stride int }{
		{0, 8, 8}, {1, 8, 8}, {3, 8, 16}, {4, 64, 64}, {5, 64, 512}, {9, 19, 40}, {129, 64, 512}, {7, 128, 130}, {2, 0, 3},
	}
	eachPathType(t, 9, func(t *testing.T, wt wtypeT, r *rand.Rand) {
		for _, c := range cases {
			n := 0
			if c.rows > 0 {
				n = (c.rows-1)*c.stride + c.cols
			}
			raw, w := wt.gen(r, n)
			row := func(j int) []float64 { return w[j*c.stride : j*c.stride+c.cols] }
			// Scores: one dot product per row.
			x := randX(r, c.cols)
			out := make([]float32, c.rows)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			wt.gemvS(raw, c.stride, x, out)
			for j := range out {
				check(t, fmt.Sprintf("gemv %+v row %d", c, j), out[j], row(j), x)
			}
			// Weighted sum: out[i] + Σ_j a[j]·w[j, i], as a dot
			// product of (1, a) with (out[i], w[·, i]).
			a := randX(r, c.rows)
			sum := randX(r, c.cols)
			start := append([]float32(nil), sum...)
			wt.wsum(a, raw, c.stride, sum)
			ones := append([]float32{1}, a...)
			for i := range sum {
				col := []float64{float64(start[i])}
				for j := range c.rows {
					col = append(col, row(j)[i])
				}
				check(t, fmt.Sprintf("weighted sum %+v column %d", c, i), sum[i], col, ones)
			}
		}
	})
}

func TestStridePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"stride below the row":  func() { GemvBF16Stride(make([]uint16, 64), 7, make([]float32, 8), make([]float32, 2)) },
		"w short of a last row": func() { GemvF32Stride(make([]float32, 15), 8, make([]float32, 8), make([]float32, 2)) },
		"weighted sum short w":  func() { WeightedSumBF16(make([]float32, 3), make([]uint16, 64*3-1), 64, make([]float32, 64)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
