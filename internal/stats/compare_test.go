package stats

import (
	"math"
	"strings"
	"testing"
)

// The exact two-sided p-values below are computed by hand from the null
// distribution of U for two samples of size m, n without ties:
// P = 2 * #{arrangements with U <= u} / C(m+n, m).
func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		old, new []float64
		alpha    float64
		p        float64
		ratio    float64
		sig      bool
		delta    string
		warning  string
	}{
		{
			// U = 0, one arrangement of C(6,3) = 20: p = 2/20.
			name: "3v3 separated", old: []float64{1, 2, 3}, new: []float64{4, 5, 6}, alpha: 0.05,
			p: 0.1, ratio: 2.5, sig: false, delta: "~", warning: "need >= 4 samples",
		},
		{
			// U = 0 of C(8,4) = 70: p = 2/70.
			name: "4v4 separated", old: []float64{1, 2, 3, 4}, new: []float64{5, 6, 7, 8}, alpha: 0.05,
			p: 2.0 / 70, ratio: 6.5 / 2.5, sig: true, delta: "+160.00%",
		},
		{
			// New is faster: same p, ratio below 1.
			name: "4v4 faster", old: []float64{5, 6, 7, 8}, new: []float64{1, 2, 3, 4}, alpha: 0.05,
			p: 2.0 / 70, ratio: 2.5 / 6.5, sig: true, delta: "-61.54%",
		},
		{
			// old {1,3,5} vs new {2,4,6}: U = 3. Counts of U = 0..3
			// among the 20 arrangements are 1, 1, 2, 3: p = 2*7/20.
			name: "3v3 interleaved", old: []float64{1, 3, 5}, new: []float64{2, 4, 6}, alpha: 0.05,
			p: 0.7, ratio: 4.0 / 3, sig: false, delta: "~",
		},
		{
			name: "alpha loosened", old: []float64{1, 2, 3}, new: []float64{4, 5, 6}, alpha: 0.2,
			p: 0.1, ratio: 2.5, sig: true, delta: "+150.00%",
		},
		{
			name: "all equal", old: []float64{2, 2, 2, 2}, new: []float64{2, 2, 2, 2}, alpha: 0.05,
			p: 1, ratio: 1, sig: false, delta: "~", warning: "all samples are equal",
		},
		{
			name: "empty old", old: nil, new: []float64{1, 2}, alpha: 0.05,
			p: 1, ratio: math.NaN(), sig: false, delta: "~", warning: "no samples",
		},
		{
			name: "single each", old: []float64{1}, new: []float64{2}, alpha: 0.05,
			p: 1, ratio: 2, sig: false, delta: "~",
		},
		{
			name: "NaN ignored", old: []float64{1, 2, math.NaN(), 3, 4}, new: []float64{5, 6, 7, 8, math.Inf(1)}, alpha: 0.05,
			p: 2.0 / 70, ratio: 6.5 / 2.5, sig: true, delta: "+160.00%", warning: "non-finite",
		},
		{
			name: "bad alpha", old: []float64{1, 2, 3, 4}, new: []float64{5, 6, 7, 8}, alpha: math.NaN(),
			p: 2.0 / 70, ratio: 6.5 / 2.5, sig: true, delta: "+160.00%", warning: "outside (0, 1)",
		},
		{
			name: "zero old median", old: []float64{0, 0, 0, 0}, new: []float64{1, 2, 3, 4}, alpha: 0.05,
			p: 2.0 / 70, ratio: math.NaN(), sig: true, delta: "?",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(tt.old, tt.new, tt.alpha)
			if !near(c.P, tt.p) && math.Abs(c.P-tt.p) > 1e-9 {
				t.Errorf("P = %v, want %v", c.P, tt.p)
			}
			if !near(c.Ratio, tt.ratio) {
				t.Errorf("Ratio = %v, want %v", c.Ratio, tt.ratio)
			}
			if c.Significant != tt.sig || c.Delta != tt.delta {
				t.Errorf("Significant, Delta = %v, %q, want %v, %q", c.Significant, c.Delta, tt.sig, tt.delta)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(c.Warnings, "; "), tt.warning) {
				t.Errorf("warnings %q do not mention %q", c.Warnings, tt.warning)
			}
		})
	}
}
