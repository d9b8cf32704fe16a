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
					if rel, ok := checkSwiGLU(t, p.name, g[i], u[i], out[i]); ok {
						worst = max(worst, rel)
					}
				}
			}
			t.Logf("%s: worst relative error of a normal result %.3g (%.2f·2⁻²⁴)", p.name, worst, worst/0x1p-24)
		})
	}
}

// checkSwiGLU holds got = SwiGLU(g, u) to the documented bound and returns
// its relative error where the result is a normal float32 (ok).
func checkSwiGLU(t *testing.T, path string, g, u, got32 float32) (rel float64, ok bool) {
	t.Helper()
	gi, ui, got := float64(g), float64(u), float64(got32)
	want := gi / (1 + math.Exp(-gi)) * ui
	switch {
	case math.IsNaN(want) || math.IsInf(float64(float32(want)), 0): // beyond float32: ±Inf
		if !(got == float64(float32(want)) || math.IsNaN(want) && math.IsNaN(got)) {
			t.Errorf("%s: SwiGLU(%v, %v) = %v, want %v", path, gi, ui, got, want)
		}
	case gi < -87:
		if !(math.Abs(got) <= 1e-35*math.Abs(ui)) {
			t.Errorf("%s: SwiGLU(%v, %v) = %v, want |·| ≤ 1e-35·|up|", path, gi, ui, got)
		}
	default:
		d := math.Abs(got - want)
		if !(d <= 6*0x1p-24*math.Abs(want)+0x1p-149) {
			t.Errorf("%s: SwiGLU(%v, %v) = %v, want %v: error %.3g > 6·2⁻²⁴·|want| + 2⁻¹⁴⁹", path, gi, ui, got, want, d)
		}
		return d / math.Abs(want), math.Abs(want) >= 0x1p-126
	}
	return 0, false
}

// FuzzSwiGLU checks SwiGLU on arbitrary float32 bit patterns (NaNs,
// infinities and subnormals included) on every path, at every position of
// a vector and its padded tail.
func FuzzSwiGLU(f *testing.F) {
	f.Add(math.Float32bits(1), math.Float32bits(2), uint8(3))
	f.Add(math.Float32bits(-88.5), math.Float32bits(-1e-20), uint8(17))
	f.Fuzz(func(t *testing.T, g, u uint32, n uint8) {
		gate := make([]float32, int(n%20)+1)
		up := make([]float32, len(gate))
		for i := range gate {
			gate[i], up[i] = float32(i)-3, 0.5
		}
		gate[len(gate)-1], up[len(gate)-1] = math.Float32frombits(g), math.Float32frombits(u)
		for _, p := range paths() {
			with(t, p, func() {
				out := make([]float32, len(gate))
				SwiGLU(gate, up, out)
				for i := range out {
					checkSwiGLU(t, p.name, gate[i], up[i], out[i])
				}
			})
		}
	})
}

func TestSwiGLUPanics(t *testing.T) {
	defer func() {
		if msg := fmt.Sprint(recover()); msg == "<nil>" {
			t.Error("no panic on unequal lengths")
		}
	}()
	SwiGLU(make([]float32, 3), make([]float32, 4), make([]float32, 3))
}
