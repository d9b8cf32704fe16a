package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// roundCases are float32 bit patterns around every rounding decision: each
// of the 65536 upper halves (every exponent, sign and bfloat16 mantissa,
// zeros, subnormals, infinities and NaNs) with lower halves just below, at
// and above the halfway point, and the extremes.
func roundCases() []float32 {
	var v []float32
	for hi := range uint32(1 << 16) {
		for _, lo := range []uint32{0, 1, 0x7fff, 0x8000, 0x8001, 0xffff} {
			v = append(v, math.Float32frombits(hi<<16|lo))
		}
	}
	return v
}

// TestRoundBF16 holds f32ToBF16 to its definition on known values, to
// safetensors.F32ToBF16 (plain round-to-nearest-even) wherever the two are
// meant to agree, and, where the CPU has AVX512_BF16, the hardware's
// VCVTNE2PS2BF16 (through PackedBatch) to f32ToBF16 on every case.
func TestRoundBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + 2⁻⁸: a tie, to even
		{0x3f818000, 0x3f82}, // 1 + 3·2⁻⁸: a tie, to even (up)
		{0x3f808001, 0x3f81}, // just above the tie
		{0x7f7fffff, 0x7f80}, // the largest float32 overflows to +Inf
		{0xff800000, 0xff80}, // −Inf
		{0x00400000, 0x0000}, // a subnormal: zero
		{0x807fffff, 0x8000}, // a negative subnormal: −0
		{0x7f800001, 0x7fc0}, // a signalling NaN: quieted
		{0xffc12345, 0xffc1}, // a negative quiet NaN keeps sign and payload top
	} {
		if got := f32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("f32ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	cases := roundCases()
	for _, v := range cases {
		b := math.Float32bits(v)
		if b&0x7f800000 == 0 || b&0x7fffffff > 0x7f800000 {
			continue // subnormals and NaNs: the two differ by design
		}
		if got, want := f32ToBF16(v), safetensors.F32ToBF16(v); got != want {
			t.Fatalf("f32ToBF16(%#08x) = %#04x, safetensors %#04x", b, got, want)
		}
	}
	if !hwAVX512BF16 {
		t.Skip("no AVX512_BF16 on this CPU: the hardware rounding is not checked")
	}
	cols := len(cases) / 64 * 32 // two tokens, whole blocks
	var p PackedBatch
	p.Pack(cases[:2*cols], 2, cols)
	for tok := range 2 {
		for c := range cols {
			v := cases[tok*cols+c]
			// Both tokens are in one group: block c/32, token tok, lane c%32.
			if got, want := p.h[(c/32*2+tok)*32+c%32], f32ToBF16(v); got != want {
				t.Fatalf("VCVTNE2PS2BF16(%#08x) = %#04x, f32ToBF16 %#04x", math.Float32bits(v), got, want)
			}
		}
	}
}

// TestPackedBatchLayout checks the layout Pack writes for every token count
// up to 20 and widths with and without a tail: groups in order, of at most
// dpTokens tokens, sizes differing by at most one; each group's blocks of 32
// columns token after token; the tail columns rounded, in order.
func TestPackedBatchLayout(t *testing.T) {
	for _, p := range paths() {
		with(t, p, func() {
			for _, cols := range []int{0, 5, 32, 64 + 7, 96} {
				for n := range 21 {
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(i) // exact in bfloat16 up to 256, rounded above
					}
					var b PackedBatch
					b.Pack(randX(rand.New(rand.NewPCG(1, 1)), 3*(cols+13)), 3, cols+13) // reused storage must not leak through
					b.Pack(x, n, cols)
					checkLayout(t, p.name, &b, x, n, cols)
				}
			}
		})
	}
}

func checkLayout(t *testing.T, path string, b *PackedBatch, x []float32, n, cols int) {
	t.Helper()
	if gn, gc := b.Tokens(); gn != n || gc != cols {
		t.Fatalf("%s: Tokens() = %d, %d; want %d, %d", path, gn, gc, n, cols)
	}
	bf := func(i int) uint16 { return f32ToBF16(x[i]) }
	if !b.dp {
		for i := range x {
			if b.f[i] != bf16ToF32(bf(i)) {
				t.Fatalf("%s n=%d cols=%d: f[%d] = %v, want x[%d] rounded", path, n, cols, i, b.f[i], i)
			}
		}
		return
	}
	k32, tw := cols&^31, cols%32
	next, sizes := 0, []int{}
	for _, g := range b.groups {
		if g.t0 != next || g.tokens < 1 || g.tokens > dpTokens {
			t.Fatalf("%s n=%d: groups %+v", path, n, b.groups)
		}
		sizes = append(sizes, g.tokens)
		for kb := range k32 / 32 {
			for j := range g.tokens {
				for i := range 32 {
					got := b.h[g.t0*k32+(kb*g.tokens+j)*32+i]
					if want := bf((g.t0+j)*cols + kb*32 + i); got != want {
						t.Fatalf("%s n=%d cols=%d: token %d column %d packed %#04x, want %#04x", path, n, cols, g.t0+j, kb*32+i, got, want)
					}
				}
			}
		}
		next += g.tokens
	}
	if next != n || len(sizes) > 0 && slices.Max(sizes)-slices.Min(sizes) > 1 {
		t.Fatalf("%s n=%d: group sizes %v", path, n, sizes)
	}
	for tk := range n {
		for i := range tw {
			if got, want := b.f[tk*tw+i], bf16ToF32(bf(tk*cols+k32+i)); got != want {
				t.Fatalf("%s n=%d cols=%d: tail of token %d column %d = %v, want %v", path, n, cols, tk, k32+i, got, want)
			}
		}
	}
}

// TestGemmBF16Invariance: on the VDPBF16PS path a row's result does not
// depend on the row split (the one-row kernel reduces as the four-row one)
// nor on the other tokens of the batch (every group size adds in the same
// order): bit for bit, the whole batch and rows split unevenly against each
// token alone.
func TestGemmBF16Invariance(t *testing.T) {
	if !hwAVX512BF16 {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	r := rand.New(rand.NewPCG(11, 11))
	for _, s := range [][3]int{{13, 11, 96 + 5}, {8, 9, 64}, {20, 5, 2048}} {
		n, rows, cols := s[0], s[1], s[2]
		w, _ := bfRand(r, rows*cols)
		x := randX(r, n*cols)
		whole := make([]float32, n*rows)
		GemmBF16(w, x, whole, n, rows, cols)
		var p PackedBatch
		p.Pack(x, n, cols)
		split := make([]float32, n*rows)
		for r0 := 0; r0 < rows; {
			r1 := min(rows, r0+1+r0%5)
			GemmBF16Packed(w, &p, split, rows, r0, r1)
			r0 = r1
		}
		alone := make([]float32, n*rows)
		for tk := range n {
			GemmBF16(w, x[tk*cols:(tk+1)*cols], alone[tk*rows:(tk+1)*rows], 1, rows, cols)
		}
		for i := range whole {
			if math.Float32bits(split[i]) != math.Float32bits(whole[i]) || math.Float32bits(alone[i]) != math.Float32bits(whole[i]) {
				t.Fatalf("%v out[%d, %d]: whole %v, split rows %v, token alone %v", s, i/rows, i%rows, whole[i], split[i], alone[i])
			}
		}
	}
}

// TestGemmBF16MatchesGo holds every assembly path to the portable one
// directly: both sum the same products of w and x̃ in float32, so they differ
// by at most twice check's bound.
func TestGemmBF16MatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	for _, s := range [][3]int{{1, 4, 64}, {7, 13, 96 + 5}, {13, 8, 2048}, {64, 12, 8192}} {
		n, rows, cols := s[0], s[1], s[2]
		w, wv := bfRand(r, rows*cols)
		x := randX(r, n*cols)
		xr := rounded(x)
		ref := make([]float32, n*rows)
		with(t, paths()[0], func() { GemmBF16(w, x, ref, n, rows, cols) })
		for _, p := range paths()[1:] {
			got := make([]float32, n*rows)
			with(t, p, func() { GemmBF16(w, x, got, n, rows, cols) })
			for tk := range n {
				for i := range rows {
					var abs float64
					for j := range cols {
						abs += math.Abs(float64(wv[i*cols+j]) * float64(xr[tk*cols+j]))
					}
					d := math.Abs(float64(got[tk*rows+i]) - float64(ref[tk*rows+i]))
					if tol := 2 * float64(cols+2) * 0x1p-24 * abs; !(d <= tol) {
						t.Errorf("%s %v out[%d, %d]: %v, go %v: difference %.3g > %.3g", p.name, s, tk, i, got[tk*rows+i], ref[tk*rows+i], d, tol)
					}
				}
			}
		}
	}
}

// TestGemmBF16SpecialValues: a NaN weight, an infinite activation and 0·Inf
// reach the result on every path, in the blocks and in the tail columns.
func TestGemmBF16SpecialValues(t *testing.T) {
	const n, rows = 3, 5
	for _, p := range paths() {
		with(t, p, func() {
			for _, cols := range []int{40, 64, 70} {
				for _, pos := range []int{0, 33, cols - 1} {
					w := make([]uint16, rows*cols)
					for i := range w {
						w[i] = 0x3f80 // 1
					}
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = 0.5
					}
					w[2*cols+pos] = 0x7fc0                // NaN in row 2
					x[1*cols+pos] = float32(math.Inf(-1)) // −Inf in token 1
					w[4*cols+pos] = 0                     // row 4 meets it with 0
					out := make([]float32, n*rows)
					GemmBF16(w, x, out, n, rows, cols)
					for tk := range n {
						for r := range rows {
							v := float64(out[tk*rows+r])
							var ok bool
							switch {
							case r == 2 || tk == 1 && r == 4:
								ok = math.IsNaN(v)
							case tk == 1:
								ok = math.IsInf(v, -1)
							case r == 4:
								ok = v == float64(cols-1)/2
							default:
								ok = v == float64(cols)/2
							}
							if !ok {
								t.Errorf("%s cols=%d pos=%d: out[%d, %d] = %v", p.name, cols, pos, tk, r, v)
							}
						}
					}
				}
			}
		})
	}
}

// FuzzGemmBF16 runs the bf16 GEMM on random shapes, data and row ranges on
// every path: the rows in the range within check's bound of the exact
// product with x rounded, the others untouched.
func FuzzGemmBF16(f *testing.F) {
	for _, s := range [][3]int{{1, 1, 1}, {7, 9, 64}, {13, 4, 96 + 5}, {6, 8, 2048}, {0, 3, 32}, {5, 0, 8}} {
		f.Add(uint64(s[0]), uint8(s[0]), uint8(s[1]), uint16(s[2]), uint8(1), uint8(s[1]))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n, rows uint8, cols uint16, r0, r1 uint8) {
		nt, nr, nc := int(n%16), int(rows%24), int(cols%600)
		lo := int(r0) % (nr + 1)
		hi := lo + int(r1)%(nr-lo+1)
		r := rand.New(rand.NewPCG(seed, 12))
		raw, w := bfRand(r, nr*nc)
		x := randX(r, nt*nc)
		xr := rounded(x)
		for _, p := range paths() {
			with(t, p, func() {
				out := make([]float32, nt*nr)
				for i := range out {
					out[i] = -1234
				}
				GemmBF16Packed(raw, new(PackedBatch).Pack(x, nt, nc), out, nr, lo, hi)
				for tk := range nt {
					for i := range nr {
						got := out[tk*nr+i]
						if i < lo || i >= hi {
							if got != -1234 {
								t.Fatalf("%s: out[%d, %d] = %v outside rows [%d, %d)", p.name, tk, i, got, lo, hi)
							}
							continue
						}
						wi := make([]float64, nc)
						for j := range wi {
							wi[j] = float64(w[i*nc+j])
						}
						check(t, fmt.Sprintf("%s n=%d %dx%d out[%d,%d]", p.name, nt, nr, nc, tk, i), got, wi, xr[tk*nc:(tk+1)*nc])
					}
				}
			})
		}
	})
}
