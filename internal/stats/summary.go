package stats

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
	"gonum.org/v1/gonum/stat"
)

// Confidence is the confidence level of every interval this package
// computes.
const Confidence = 0.95

// Summary describes one set of samples. All values are in the unit of the
// samples.
//
// The CI is the interval of the median at Confidence, from order statistics.
// A sample too small to give a finite interval at that level (fewer than 6
// values for 95%) has CILo = -Inf and CIHi = +Inf and a warning, exactly as
// benchstat reports "±∞". With N == 0 every statistic is NaN.
//
// Summary encodes to JSON with non-finite values written as null, since
// JSON numbers cannot hold them; Warnings say why a value is missing.
type Summary struct {
	N      int     `json:"n"`      // number of finite samples used
	Min    float64 `json:"min"`    // smallest sample
	Max    float64 `json:"max"`    // largest sample
	Mean   float64 `json:"mean"`   // arithmetic mean
	SD     float64 `json:"sd"`     // sample standard deviation (n-1); 0 for N == 1
	Median float64 `json:"median"` // median (mean of the middle two for even N)
	P90    float64 `json:"p90"`    // 90th percentile, nearest rank
	P99    float64 `json:"p99"`    // 99th percentile, nearest rank
	CILo   float64 `json:"ci_lo"`  // lower bound of the CI of the median
	CIHi   float64 `json:"ci_hi"`  // upper bound of the CI of the median

	// CILevel is the actual confidence level of [CILo, CIHi]; order
	// statistics give levels at or above the requested Confidence.
	CILevel float64 `json:"ci_level"`

	// NonFinite counts the input values that were NaN or ±Inf. They are
	// excluded from every statistic (and from N).
	NonFinite int `json:"non_finite,omitempty"`

	// Warnings explain anything that makes the summary weaker than it
	// looks: too few samples for a CI, dropped non-finite values.
	Warnings []string `json:"warnings,omitempty"`
}

// HasCI reports whether the confidence interval of the median is finite.
func (s Summary) HasCI() bool {
	return !math.IsNaN(s.CILo) && !math.IsNaN(s.CIHi) &&
		!math.IsInf(s.CILo, 0) && !math.IsInf(s.CIHi, 0)
}

// Summarize computes a Summary of samples. The input slice is not modified.
// Non-finite values are dropped (and counted in NonFinite); see Summary for
// the results of small or empty inputs.
func Summarize(samples []float64) Summary {
	xs, nonFinite := finite(samples)
	slices.Sort(xs)

	var s Summary
	s.N = len(xs)
	s.NonFinite = nonFinite
	if nonFinite > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d non-finite samples (NaN or ±Inf) ignored", nonFinite))
	}
	if len(xs) == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.SD, s.Median, s.P90, s.P99 = nan, nan, nan, nan, nan, nan, nan
		s.CILo, s.CIHi, s.CILevel = nan, nan, nan
		s.Warnings = append(s.Warnings, "no samples")
		return s
	}

	s.Min, s.Max = xs[0], xs[len(xs)-1]
	if len(xs) == 1 {
		s.Mean, s.SD = xs[0], 0
	} else {
		s.Mean, s.SD = stat.MeanStdDev(xs, nil)
	}
	s.P90 = stat.Quantile(0.90, stat.Empirical, xs, nil)
	s.P99 = stat.Quantile(0.99, stat.Empirical, xs, nil)

	// benchmath sorts its input in place: give it its own copy.
	bs := benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(bs, Confidence)
	s.Median, s.CILo, s.CIHi, s.CILevel = sum.Center, sum.Lo, sum.Hi, sum.Confidence
	for _, w := range sum.Warnings {
		s.Warnings = append(s.Warnings, w.Error())
	}
	return s
}

// Median returns the median of the finite values of xs (the mean of the
// middle two for an even count), NaN with none. xs is not modified.
func Median(xs []float64) float64 {
	f, _ := finite(xs)
	if len(f) == 0 {
		return math.NaN()
	}
	slices.Sort(f)
	n := len(f)
	if n%2 == 1 {
		return f[n/2]
	}
	return (f[n/2-1] + f[n/2]) / 2
}

// Finite returns a copy of xs without NaN and ±Inf values.
func Finite(xs []float64) []float64 {
	f, _ := finite(xs)
	return f
}

// finite returns a copy of xs without NaN and ±Inf values, and how many were
// left out.
func finite(xs []float64) (out []float64, dropped int) {
	out = make([]float64, 0, len(xs))
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			dropped++
			continue
		}
		out = append(out, x)
	}
	return out, dropped
}
