package kv

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// Bootstrap settings of SpeedupCI.
const (
	bootstrapResamples  = 4000
	bootstrapMinSamples = 6 // as stats.Summarize: fewer give no 95% interval
)

// Speedup is median(slow)/median(fast) with a 95% confidence interval and
// the Mann-Whitney p-value of the difference.
type Speedup struct {
	Ratio, Lo, Hi float64 // Lo and Hi are NaN with too few samples
	P             float64 // stats.Compare's two-sided p-value
}

// SpeedupCI estimates how many times faster fast is than slow. The
// interval is a percentile bootstrap: both sample sets are resampled with
// replacement, independently, bootstrapResamples times with a fixed seed
// (so a result file is reproducible), and the 2.5th and 97.5th percentiles
// of the resampled ratios of medians are taken. With fewer than
// bootstrapMinSamples on either side no interval is given.
func SpeedupCI(slow, fast []float64) Speedup {
	c := stats.Compare(slow, fast, stats.DefaultAlpha)
	s := Speedup{Ratio: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), P: c.P}
	if c.Old.N == 0 || c.New.N == 0 || c.New.Median == 0 {
		return s
	}
	s.Ratio = c.Old.Median / c.New.Median
	if c.Old.N < bootstrapMinSamples || c.New.N < bootstrapMinSamples {
		return s
	}
	r := rand.New(rand.NewPCG(1, 2))
	a, b := stats.Finite(slow), stats.Finite(fast)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, 0, bootstrapResamples)
	for range bootstrapResamples {
		for i := range ra {
			ra[i] = a[r.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[r.IntN(len(b))]
		}
		if m := stats.Median(rb); m > 0 {
			ratios = append(ratios, stats.Median(ra)/m)
		}
	}
	if len(ratios) == 0 {
		return s
	}
	slices.Sort(ratios)
	s.Lo = ratios[int(0.025*float64(len(ratios)-1))]
	s.Hi = ratios[int(math.Ceil(0.975*float64(len(ratios)-1)))]
	return s
}
