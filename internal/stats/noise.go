package stats

import (
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Test returns the two-sided p-value of the Mann-Whitney U test of old
// against newer (benchmath.AssumeNothing, as benchstat), 1 when a side has
// no finite value.
func Test(old, newer []float64, alpha float64) float64 {
	xo, _ := finite(old)
	xn, _ := finite(newer)
	if len(xo) == 0 || len(xn) == 0 {
		return 1
	}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(xo, th), benchmath.NewSample(xn, th)).P
}

// Spread is the noise of a set of repetition medians relative to their
// center: half their range over their median, pooled over the two sides
// of a comparison (each side centred on its own median first, so a real
// shift between the sides does not count as noise). 0 with fewer than two
// values; NaN when a median is not positive.
func Spread(old, newer []float64) float64 {
	r := residuals(old, newer)
	if len(r) < 2 {
		return 0
	}
	lo, hi := slices.Min(r), slices.Max(r)
	if !(lo > 0) {
		return math.NaN()
	}
	return (hi - lo) / 2
}

// MinDetectable is the smallest relative slowdown d that the Mann-Whitney
// test at alpha would call significant between repetition medians with the
// observed noise: the pooled, centred medians of both sides (see Spread)
// against the same values times 1+d, found by bisection. +Inf when even a
// complete separation of the sides cannot reach alpha (too few
// repetitions: 3 against 3 never can; 4 against 4 can).
func MinDetectable(old, newer []float64, alpha float64) float64 {
	xo, _ := finite(old)
	xn, _ := finite(newer)
	if len(xo) == 0 || len(xn) == 0 || minP(len(xo), len(xn)) >= alpha {
		return math.Inf(1)
	}
	r := residuals(old, newer)
	// Sides the size of the inputs, drawn from the pooled residuals.
	a, b := spreadOver(r, len(xo)), spreadOver(r, len(xn))
	shifted := func(d float64) []float64 {
		out := make([]float64, len(b))
		for i, x := range b {
			out[i] = x * (1 + d)
		}
		return out
	}
	lo, hi := 0.0, slices.Max(r)/slices.Min(r) // complete separation: significant
	if Test(a, shifted(hi), alpha) >= alpha {
		hi *= 1.01
	}
	for range 40 {
		mid := (lo + hi) / 2
		if Test(a, shifted(mid), alpha) < alpha {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// minP is the smallest two-sided Mann-Whitney p-value samples of sizes m
// and n can give: 2 / C(m+n, m).
func minP(m, n int) float64 {
	lc, _ := math.Lgamma(float64(m + n + 1))
	la, _ := math.Lgamma(float64(m + 1))
	lb, _ := math.Lgamma(float64(n + 1))
	return 2 * math.Exp(-(lc - la - lb))
}

// residuals are each side's finite values over that side's median.
func residuals(sides ...[]float64) []float64 {
	var out []float64
	for _, s := range sides {
		xs, _ := finite(s)
		if len(xs) == 0 {
			continue
		}
		m := Summarize(xs).Median
		for _, x := range xs {
			out = append(out, x/m)
		}
	}
	return out
}

// spreadOver picks n values evenly from the sorted pool, so a side of n
// repetitions carries the pool's whole spread.
func spreadOver(pool []float64, n int) []float64 {
	s := slices.Sorted(slices.Values(pool))
	out := make([]float64, n)
	for i := range out {
		j := 0
		if n > 1 {
			j = int(math.Round(float64(i) * float64(len(s)-1) / float64(n-1)))
		}
		out[i] = s[j]
	}
	return out
}

// Run-to-run noise calibration: see RunNoise.
const (
	// NoiseTail is the one-sided probability that one run of the same
	// code is slower than another by more than the band: 0.1%.
	NoiseTail = 0.001
	// NoiseUpper is the one-sided level of the upper confidence bound
	// taken for the run-to-run standard deviation, which a few runs
	// estimate loosely.
	NoiseUpper = 0.90
)

// Fastest is the smallest finite value of xs, NaN with none: of a case's
// repetition medians, the repetition least disturbed. On a shared machine
// other tenants only ever add time (a burst of a neighbour's compile took
// matmul rounds from 86 ms to 300–600 ms in the middle of a run), so the
// fastest repetition is the steadiest measure of the code's own cost from
// run to run (1–1.5% here, where medians moved by 15–30%), as timeit and
// hyperfine's minimum are.
func Fastest(xs []float64) float64 {
	f, _ := finite(xs)
	if len(f) == 0 {
		return math.NaN()
	}
	return slices.Min(f)
}

// RunNoise calibrates the run-to-run noise of one case from its values
// (Fastest of its repetition medians) in k ≥ 3 runs of the same code on
// the same machine: sigma is the standard deviation of their logarithms
// and band the relative slowdown one run shows over another at most:
// exp(t·√2·σ⁺) − 1, with t the Student-t quantile of k−1 degrees of freedom
// at 1−NoiseTail and σ⁺ the NoiseUpper upper confidence bound of sigma (χ²
// with k−1 degrees of freedom). Both are wider than a normal model with a
// known σ would give: on a shared machine the differences between runs
// have heavier tails than normal (the false-alarm study of
// scripts/aa-study.sh saw 6% differences where σ was 0.7%). NaN with fewer
// than 3 positive values.
func RunNoise(medians []float64) (sigma, band float64) {
	var logs []float64
	for _, m := range medians {
		if m > 0 && !math.IsInf(m, 0) {
			logs = append(logs, math.Log(m))
		}
	}
	k := len(logs)
	if k < 3 {
		return math.NaN(), math.NaN()
	}
	sigma = stat.StdDev(logs, nil)
	df := float64(k - 1)
	upper := sigma * math.Sqrt(df/distuv.ChiSquared{K: df}.Quantile(1-NoiseUpper))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - NoiseTail)
	return sigma, math.Exp(t*math.Sqrt2*upper) - 1
}
