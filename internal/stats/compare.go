package stats

import (
	"fmt"
	"math"

	"golang.org/x/perf/benchmath"
)

// DefaultAlpha is the significance level benchstat uses.
const DefaultAlpha = 0.05

// Comparison is the result of comparing an old and a new set of samples.
type Comparison struct {
	Old, New Summary // summaries of the two inputs

	// Ratio is New.Median / Old.Median: below 1 the new samples are
	// faster (for latencies). NaN when either side has no samples or the
	// old median is 0.
	Ratio float64

	// P is the two-sided p-value of the Mann-Whitney U test of the null
	// hypothesis that both sets come from the same distribution. It is 1
	// when the test cannot run (a side has no samples, or every value in
	// both sets is equal), with a warning saying why.
	P float64

	Alpha       float64 // significance level used
	Significant bool    // P < Alpha

	// Delta is benchstat's delta column: "~" when not significant,
	// otherwise the change of the median in percent, e.g. "+12.34%".
	Delta string

	// Warnings collects the warnings of both summaries and of the test,
	// e.g. that there are too few samples to ever reach significance.
	Warnings []string
}

// Compare tests whether newer differs from old with the Mann-Whitney U test
// (benchmath.AssumeNothing, as benchstat) at significance level alpha. An
// alpha outside (0, 1) is replaced by DefaultAlpha, with a warning.
// Non-finite samples are ignored, as in Summarize. The inputs are not
// modified.
func Compare(old, newer []float64, alpha float64) Comparison {
	c := Comparison{Old: Summarize(old), New: Summarize(newer), Alpha: alpha, P: 1, Ratio: math.NaN()}
	if !(alpha > 0 && alpha < 1) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("alpha %v outside (0, 1); using %v", alpha, DefaultAlpha))
		c.Alpha = DefaultAlpha
	}
	for _, w := range c.Old.Warnings {
		c.Warnings = append(c.Warnings, "old: "+w)
	}
	for _, w := range c.New.Warnings {
		c.Warnings = append(c.Warnings, "new: "+w)
	}

	if c.Old.N > 0 && c.New.N > 0 {
		if c.Old.Median != 0 {
			c.Ratio = c.New.Median / c.Old.Median
		}
		th := &benchmath.Thresholds{CompareAlpha: c.Alpha}
		xo, _ := finite(old)
		xn, _ := finite(newer)
		res := benchmath.AssumeNothing.Compare(benchmath.NewSample(xo, th), benchmath.NewSample(xn, th))
		c.P = res.P
		for _, w := range res.Warnings {
			c.Warnings = append(c.Warnings, w.Error())
		}
	} else {
		c.Warnings = append(c.Warnings, "cannot compare: a side has no samples")
	}

	c.Significant = c.P < c.Alpha
	c.Delta = formatDelta(c)
	return c
}

// formatDelta renders the delta column like benchstat.
func formatDelta(c Comparison) string {
	switch {
	case !c.Significant:
		return "~"
	case c.Old.Median == c.New.Median:
		return "0.00%"
	case math.IsNaN(c.Ratio):
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", (c.Ratio-1)*100)
}
