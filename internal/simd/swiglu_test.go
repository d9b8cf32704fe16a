package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// swigluCases are gate values over the whole range that matters: dense
// around 0, every power of two up to the float32 limit and the edges of the
// exponential's clamps, with the special values.
func swigluCases(r *rand.Rand) []float32 {
	g := []float32{0, float32(math.Copysign(0, -1)), 1, -1, -87, -87.3, -88.7, -88.8, -89, 88.8, 100, -100,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30}
	for e := -126; e <= 127; e++ {
		g = append(g, float32(math.Ldexp(1, e)), -float32(math.Ldexp(1, e)))
	}
	for range 1 << 18 {
		g = append(g, float32(r.Float64()*200-100), float32(r.NormFloat64()*4))
	}
	return g
}

// TestSwiGLU holds every path to the bound SwiGLU documents, against
// float64, with up random, in and out of place, at every alignment of the
// padded tail; and the assembly at most a few ulps from the portable path.
func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	gate := swigluCases(r)
	up := randX(r, len(gate))
	for _, p := range paths() {
		with(t, p, func() {
			var worst float64
			for _, n := range []int{len(gate), 7, 9, 1, 0} {
				g, u := gate[len(gate)-n:], up[len(gate)-n:]
				out := make([]float32, n)
				SwiGLU(g, u, out)
				inPlace := append([]float32(nil), g...)
				SwiGLU(inPlace, u, inPlace)
				for i := range out {
					if math.Float32bits(inPlace[i]) != math.Float32bits(out[i]) {
						t.Fatalf("%s: in place %v, out of place %v at g = %v", p.name, inPlace[i], out[i], g[i])
					}
					gi, ui := float64(g[i]), float64(u[i])
					want := gi / (1 + math.Exp(-gi)) * ui
					got := float64(out[i])
					switch {
					case math.IsNaN(want) || math.IsInf(float64(float32(want)), 0): // beyond float32: ±Inf
						if !(got == float64(float32(want)) || math.IsNaN(want) && math.IsNaN(got)) {
							t.Errorf("%s: SwiGLU(%v, %v) = %v, want %v", p.name, gi, ui, got, want)
						}
					case gi < -87:
						if !(math.Abs(got) <= 1e-35*math.Abs(ui)) {
							t.Errorf("%s: SwiGLU(%v, %v) = %v, want |·| ≤ 1e-35·|up|", p.name, gi, ui, got)
						}
					default:
						d := math.Abs(got - want)
						if math.Abs(want) >= 0x1p-126 {
							worst = max(worst, d/math.Abs(want))
						}
						if !(d <= 6*0x1p-24*math.Abs(want)+0x1p-149) {
							t.Errorf("%s: SwiGLU(%v, %v) = %v, want %v: error %.3g > 6·2⁻²⁴·|want| + 2⁻¹⁴⁹", p.name, gi, ui, got, want, d)
						}
					}
				}
			}
			t.Logf("%s: worst relative error of a normal result %.3g (%.2f·2⁻²⁴)", p.name, worst, worst/0x1p-24)
		})
	}
}

func TestSwiGLUPanics(t *testing.T) {
	defer func() {
		if msg := fmt.Sprint(recover()); msg == "<nil>" {
			t.Error("no panic on unequal lengths")
		}
	}()
	SwiGLU(make([]float32, 3), make([]float32, 4), make([]float32, 3))
}
