package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// maxGo is Max's definition: the largest non-NaN element, −Inf if none.
func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// TestMax puts the largest element, NaNs and infinities at every position
// of vectors on and off the kernel's 8 and 32 steps; Max must equal its
// definition on every path (a maximum has no rounding).
func TestMax(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, p := range paths() {
		with(t, p, func() {
			for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 64, 71, 1000} {
				for at := range n {
					x := randX(r, n)
					for _, special := range []float32{100, nan, inf, -inf} {
						x[at] = special
						if got, want := Max(x), maxGo(x); got != want {
							t.Fatalf("%s: n=%d, %v at %d: Max %v, want %v", p.name, n, special, at, got, want)
						}
					}
				}
			}
			for _, x := range [][]float32{{nan}, {nan, nan, nan, nan, nan, nan, nan, nan, nan}, {-inf, nan}, {}} {
				if got := Max(x); got != float32(math.Inf(-1)) {
					t.Errorf("%s: Max(%v) = %v, want -Inf", p.name, x, got)
				}
			}
		})
	}
}

// checkExp holds got = e^(x·scale − shift) to ExpSum's documented bound,
// the argument taken exactly from the float32 inputs, for arguments up to
// 88 (above, e^a nears float32's largest and the float32 path may give
// +Inf), and returns its error relative to the exact value and to |a|+1
// (0 for a special case or a below the clamp).
func checkExp(t *testing.T, what string, x, scale, shift, got float32) float64 {
	t.Helper()
	a := float64(x)*float64(scale) - float64(shift)
	want := math.Exp(a)
	switch {
	case math.IsNaN(a):
		if !math.IsNaN(float64(got)) {
			t.Errorf("%s: e^(%v·%v − %v) = %v, want NaN", what, x, scale, shift, got)
		}
	case a > 88:
		if !(float64(got) >= want*(1-1e-6)) {
			t.Errorf("%s: e^(%v·%v − %v) = %v, want ≥ %v", what, x, scale, shift, got, want)
		}
	case math.IsInf(a, -1):
		if !(got >= 0 && got <= 0x1p-125) {
			t.Errorf("%s: e^(%v·%v − %v) = %v, want 0 (within 2⁻¹²⁵)", what, x, scale, shift, got)
		}
	default:
		d := math.Abs(float64(got) - want)
		if !(d <= (math.Abs(a)+3)*0x1p-24*want+0x1p-125) {
			t.Errorf("%s: e^(%v·%v − %v) = e^%v = %v, want %v: error %.3g > (|a|+3)·2⁻²⁴·e^a + 2⁻¹²⁵", what, x, scale, shift, a, got, want, d)
		}
		if a >= -87 { // above the float32 path's clamp
			return d / want / (math.Abs(a) + 1)
		}
	}
	return 0
}

// TestExpSum holds every element ExpSum writes to its bound, with scores
// whose arguments span everything a softmax meets (0 down to far below the
// float32 path's clamp, the special values), at every alignment of the
// padded tail, for attention's scales; and the sum returned to the sum of
// what it wrote, within the float32 summation bound.
func TestExpSum(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	var scores []float32
	for range 1 << 12 {
		scores = append(scores, float32(r.Float64()*60-50), float32(r.NormFloat64()*3))
	}
	scores = append(scores, 0, float32(math.Copysign(0, -1)), 1, -1, -87, -87.3, -88, -100, -1e30, -inf, nan, 5, 80)
	for _, p := range paths() {
		with(t, p, func() {
			var worst float64
			for _, scale := range []float32{1, 0.125, float32(1 / math.Sqrt(128)), 0.1} {
				for _, shift := range []float32{0, 10, -3, 88} {
					for _, n := range []int{len(scores), 1, 7, 8, 9, 15, 17} {
						x := append([]float32(nil), scores[len(scores)-n:]...)
						s := ExpSum(x, scale, shift)
						var sum, abs float64
						for i, v := range x {
							worst = max(worst, checkExp(t, fmt.Sprintf("%s n=%d [%d]", p.name, n, i), scores[len(scores)-n+i], scale, shift, v))
							sum += float64(v)
							abs += math.Abs(float64(v))
						}
						if math.IsInf(sum, 0) || math.IsNaN(sum) {
							if !(math.IsNaN(float64(s)) || math.IsInf(float64(s), 0)) {
								t.Errorf("%s n=%d: sum %v of non-finite values", p.name, n, s)
							}
							continue
						}
						if d := math.Abs(float64(s) - sum); !(d <= float64(n+1)*0x1p-24*abs) && !math.IsInf(float64(s), 0) {
							t.Errorf("%s n=%d scale %v shift %v: sum %v, the values written add to %v", p.name, n, scale, shift, s, sum)
						}
					}
				}
			}
			t.Logf("%s: worst error relative to (|a|+1)·e^a above the clamp: %.3g (%.2f·2⁻²⁴)", p.name, worst, worst/0x1p-24)
		})
	}
}

// FuzzSoftmax checks Max and ExpSum on arbitrary float32 bit patterns
// (NaNs, infinities, subnormals included) at any position of a vector, on
// every path: Max against its definition, each exponential against its
// bound with the shift a softmax uses, the row's maximum times the scale.
func FuzzSoftmax(f *testing.F) {
	f.Add(math.Float32bits(1), math.Float32bits(0.125), uint8(3), uint8(9))
	f.Add(math.Float32bits(-1e30), math.Float32bits(1), uint8(0), uint8(40))
	f.Add(uint32(0x7fc00000), math.Float32bits(0.5), uint8(17), uint8(17))
	f.Fuzz(func(t *testing.T, v, scale uint32, at, n uint8) {
		x := make([]float32, int(n%40)+1)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		x[int(at)%len(x)] = math.Float32frombits(v)
		sc := math.Float32frombits(scale)
		if !(sc > 0 && sc < 1e30) {
			sc = 1 // the softmax's scale is a positive, moderate number
		}
		for _, p := range paths() {
			with(t, p, func() {
				m := Max(x)
				if want := maxGo(x); m != want {
					t.Fatalf("%s: Max(%v) = %v, want %v", p.name, x, m, want)
				}
				shift := m * sc
				y := append([]float32(nil), x...)
				ExpSum(y, sc, shift)
				for i := range y {
					checkExp(t, p.name, x[i], sc, shift, y[i])
				}
			})
		}
	})
}
