package stats

import (
	"math"
	"testing"
)

func TestMinDetectable(t *testing.T) {
	// 3 against 3 can never reach p < 0.05 (the smallest p is 0.1).
	if d := MinDetectable([]float64{1, 2, 3}, []float64{1, 2, 3}, 0.05); !math.IsInf(d, 1) {
		t.Errorf("3v3: %v, want +Inf", d)
	}
	// Without noise any shift is detectable.
	if d := MinDetectable([]float64{2, 2, 2, 2, 2}, []float64{3, 3, 3, 3, 3}, 0.05); !(d < 1e-6) {
		t.Errorf("no noise: %v", d)
	}
	// Noise of ±5% around each side's median: a shift of the whole spread
	// (≈10%) separates the sides completely, so d is at most that, and
	// more than zero.
	a := []float64{0.95, 0.97, 0.99, 1.0, 1.01, 1.03, 1.05, 1.0}
	d := MinDetectable(a, a, 0.05)
	if !(d > 0 && d <= 1.05/0.95-1+1e-9) {
		t.Errorf("noisy: %v", d)
	}
	if p := Test(a, scale(a, 1+d*1.01), 0.05); !(p < 0.05) {
		t.Errorf("a shift of d is not significant: p %v", p)
	}
	if s := Spread(a, scale(a, 2)); math.Abs(s-0.05) > 1e-12 {
		t.Errorf("Spread %v, want 0.05 (a shift between the sides is not noise)", s)
	}
	if math.Abs(minP(4, 4)-2.0/70) > 1e-12 {
		t.Errorf("minP(4,4) = %v", minP(4, 4))
	}
}

func scale(xs []float64, f float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}

func TestRunNoise(t *testing.T) {
	if s, b := RunNoise([]float64{1, 2}); !math.IsNaN(s) || !math.IsNaN(b) {
		t.Errorf("two runs: %v %v, want NaN", s, b)
	}
	if s, b := RunNoise([]float64{5, 5, 5, 5}); s != 0 || b != 0 {
		t.Errorf("identical runs: %v %v", s, b)
	}
	s, b := RunNoise([]float64{1, 1.02, 0.98, 1.01, 0.99, 1.0, 1.03, 0.97})
	// k = 8: t(7) at 0.999 is 4.785; the 90% bound of σ is σ·√(7/2.833).
	want := math.Expm1(4.785 * math.Sqrt2 * s * math.Sqrt(7/2.833))
	if !(s > 0.01 && s < 0.03) || math.Abs(b-want) > 0.01*want {
		t.Errorf("sigma %v, band %v, want %v", s, b, want)
	}
}

func TestMedianFinite(t *testing.T) {
	xs := []float64{3, math.NaN(), 1, math.Inf(1), 2, 10}
	if m := Median(xs); m != 2.5 {
		t.Errorf("Median = %v, want 2.5", m)
	}
	if len(Finite(xs)) != 4 || !math.IsNaN(xs[1]) {
		t.Error("Finite")
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil)")
	}
}
