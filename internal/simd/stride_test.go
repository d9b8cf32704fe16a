package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The strided GEMM (attention's scores) and the many-row weighted sums (its
// probabilities times the values), on every path and weight type, against
// the exact sums; the elements between and after the rows they write must
// keep their bits.

// extent is the elements rows rows of cols, stride apart, span.
func extent(rows, stride, cols int) int {
	if rows == 0 {
		return 0
	}
	return (rows-1)*stride + cols
}

// nanFilled returns n float32s set to NaN: what a kernel leaves unwritten
// stays NaN.
func nanFilled(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

// gemmStrideCase is n rows of x against rows rows of w, each cols long, each
// operand's stride its row plus a pad.
type gemmStrideCase struct{ n, rows, cols, wpad, xpad, opad int }

// gemmStrideCases cover empty operands, a row and a column alone, the
// 6- and 3-row tiles with rows of x left over, rows of w past the 4-row
// blocks, columns on and off the 8 and 16 steps, and attention's shapes
// (a block of 24 queries of one head against 64 keys of width 64, the cache
// row holding 8 heads, q 32).
var gemmStrideCases = []gemmStrideCase{
	{0, 4, 8, 0, 0, 0}, {3, 0, 8, 1, 1, 0}, {2, 3, 0, 2, 1, 1}, {1, 1, 1, 0, 0, 0},
	{6, 4, 16, 0, 0, 0}, {7, 9, 64, 5, 3, 2}, {13, 5, 17, 3, 1, 4}, {3, 3, 7, 0, 2, 1},
	{12, 8, 128, 128, 64, 0}, {24, 64, 64, 448, 1984, 0}, {1, 1030, 64, 448, 0, 0},
}

// eachPathCase runs check on each case for every path and weight type
// (eachPathType).
func eachPathCase[C any](t *testing.T, seed uint64, cases []C, check func(*testing.T, wtypeT, *rand.Rand, C)) {
	eachPathType(t, seed, func(t *testing.T, wt wtypeT, r *rand.Rand) {
		for _, c := range cases {
			check(t, wt, r, c)
		}
	})
}

func TestGemmStride(t *testing.T) { eachPathCase(t, 31, gemmStrideCases, checkGemmStrideCase) }

// checkGemmStrideCase runs one case and checks every element of out.
func checkGemmStrideCase(t *testing.T, wt wtypeT, r *rand.Rand, c gemmStrideCase) {
	t.Helper()
	ws, xs, os := c.cols+c.wpad, c.cols+c.xpad, c.rows+c.opad
	raw, w := wt.gen(r, extent(c.rows, ws, c.cols))
	x := randX(r, extent(c.n, xs, c.cols))
	out := nanFilled(extent(c.n, os, c.rows))
	wt.gemmS(raw, ws, x, xs, out, os, c.n, c.rows, c.cols)
	for i, v := range out {
		tk, row := i/os, i%os
		if row >= c.rows {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("%+v: out[%d], between rows, was written: %v", c, i, v)
			}
			continue
		}
		check(t, fmt.Sprintf("%+v x row %d · w row %d", c, tk, row), v, w[row*ws:row*ws+c.cols], x[tk*xs:tk*xs+c.cols])
	}
}

// wsumsCase is len(k) rows of coefficients, row r taking the first k[r]
// rows of w, cols columns, each operand's stride its row plus a pad.
type wsumsCase struct {
	k                []int
	cols, apad, wpad int
	opad             int
}

// causal returns n rows of keys from first on, one more a row: a causal
// mask's rows.
func causal(n, first int) []int {
	k := make([]int, n)
	for i := range k {
		k[i] = first + i
	}
	return k
}

// wsumsCases cover no rows, rows of no keys, one row, blocks of 6 and 3 with
// rows left over, a causal staircase, keys in any order, and columns on and
// off the 8, 16, 32 and 64 steps.
var wsumsCases = []wsumsCase{
	{nil, 64, 0, 0, 0}, {[]int{0}, 8, 0, 0, 0}, {[]int{0, 0, 0}, 64, 1, 1, 1}, {[]int{5}, 64, 0, 448, 0},
	{[]int{3, 3}, 0, 0, 0, 0}, {[]int{1}, 1, 0, 0, 0}, {causal(7, 1), 64, 9, 448, 1984},
	{causal(24, 41), 64, 0, 448, 1984}, {[]int{9, 3, 0, 7, 7, 7, 2, 8}, 17, 2, 3, 5},
	{causal(13, 0), 80, 1, 0, 16}, {[]int{4, 4, 4, 4, 4, 4, 4}, 48, 0, 0, 0},
	{causal(6, 2), 7, 0, 1, 1}, {causal(4, 3), 33, 0, 0, 0}, {[]int{20, 1, 20}, 128, 0, 0, 0},
	{[]int{30}, 65, 0, 0, 0}, {causal(5, 10), 31, 3, 0, 0},
}

func TestWeightedSums(t *testing.T) { eachPathCase(t, 37, wsumsCases, checkWsumsCase) }

// checkWsumsCase runs one case and checks every element of out: row r's
// element i is its start plus Σ_j a[r, j]·w[j, i], the dot product of
// (1, a[r, :k[r]]) with (start, w[:k[r], i]); the elements between rows and
// past cols keep their bits.
func checkWsumsCase(t *testing.T, wt wtypeT, r *rand.Rand, c wsumsCase) {
	t.Helper()
	most, rows := 0, len(c.k)
	for _, k := range c.k {
		most = max(most, k)
	}
	as, ws, os := most+c.apad, c.cols+c.wpad, c.cols+c.opad
	a := randX(r, extent(rows, as, most))
	raw, w := wt.gen(r, extent(most, ws, c.cols))
	out := randX(r, extent(rows, os, c.cols))
	start := append([]float32(nil), out...)
	wt.wsums(a, as, raw, ws, out, os, c.k, c.cols)
	for i, v := range out {
		row, col := i/os, i%os
		if col >= c.cols {
			if math.Float32bits(v) != math.Float32bits(start[i]) {
				t.Fatalf("%+v: out[%d], between rows, changed from %v to %v", c, i, start[i], v)
			}
			continue
		}
		terms := []float64{float64(start[i])}
		coef := []float32{1}
		for j := range c.k[row] {
			terms = append(terms, w[j*ws+col])
			coef = append(coef, a[row*as+j])
		}
		check(t, fmt.Sprintf("%+v row %d column %d", c, row, col), v, terms, coef)
	}
}

func TestStrideKernelsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"gemm wstride below the row": func() {
			GemmBF16Stride(make([]uint16, 64), 7, make([]float32, 8), 8, make([]float32, 2), 2, 1, 2, 8)
		},
		"gemm x short of its last row": func() {
			GemmF32Stride(make([]float32, 16), 8, make([]float32, 15), 8, make([]float32, 4), 2, 2, 2, 8)
		},
		"gemm out rows overlap": func() {
			GemmF16Stride(make([]uint16, 16), 8, make([]float32, 16), 8, make([]float32, 4), 1, 2, 2, 8)
		},
		"gemm out short": func() {
			GemmF32Stride(make([]float32, 16), 8, make([]float32, 16), 8, make([]float32, 3), 2, 2, 2, 8)
		},
		"sums negative k": func() {
			WeightedSumsBF16(make([]float32, 4), 4, make([]uint16, 64), 8, make([]float32, 8), 8, []int{-1}, 8)
		},
		"sums a short": func() {
			WeightedSumsF32(make([]float32, 7), 4, make([]float32, 64), 8, make([]float32, 16), 8, []int{4, 4}, 8)
		},
		"sums w short": func() {
			WeightedSumsF16(make([]float32, 8), 4, make([]uint16, 31), 8, make([]float32, 16), 8, []int{4, 4}, 8)
		},
		"sums out rows overlap": func() {
			WeightedSumsBF16(make([]float32, 8), 4, make([]uint16, 32), 8, make([]float32, 16), 7, []int{4, 4}, 8)
		},
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

// FuzzGemmStride runs random shapes and strides through every path of one
// weight type (chosen by the seed) against the exact sums.
func FuzzGemmStride(f *testing.F) {
	for i, c := range gemmStrideCases[:9] {
		f.Add(uint64(i), uint8(c.n), uint8(c.rows), uint8(c.cols), uint8(c.wpad), uint8(c.xpad), uint8(c.opad))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n, rows, cols, wpad, xpad, opad uint8) {
		c := gemmStrideCase{int(n % 16), int(rows % 16), int(cols % 96), int(wpad % 8), int(xpad % 8), int(opad % 8)}
		wt := wtypes[seed%uint64(len(wtypes))]
		for _, p := range paths() {
			if wt.avail(p) {
				r := rand.New(rand.NewPCG(seed, 41))
				with(t, p, func() { checkGemmStrideCase(t, wt, r, c) })
			}
		}
	})
}

// FuzzWeightedSums runs random row counts, key counts, columns and strides
// through every path of one weight type (chosen by the seed).
func FuzzWeightedSums(f *testing.F) {
	for i, c := range wsumsCases {
		f.Add(uint64(i), uint8(len(c.k)), uint8(c.cols), uint8(c.apad+c.wpad+c.opad), false)
	}
	f.Add(uint64(99), uint8(24), uint8(64), uint8(3), true)
	f.Fuzz(func(t *testing.T, seed uint64, rows, cols, pad uint8, staircase bool) {
		r := rand.New(rand.NewPCG(seed, 43))
		k := make([]int, rows%8)
		for i := range k {
			k[i] = r.IntN(16)
		}
		if staircase {
			k = causal(len(k), r.IntN(16))
		}
		c := wsumsCase{k, int(cols % 48), int(pad % 3), int(pad / 3 % 3), int(pad / 9 % 3)}
		wt := wtypes[seed%uint64(len(wtypes))]
		for _, p := range paths() {
			if wt.avail(p) {
				r := rand.New(rand.NewPCG(seed, 47))
				with(t, p, func() { checkWsumsCase(t, wt, r, c) })
			}
		}
	})
}
