package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
)

// CompareOptions configure Compare.
type CompareOptions struct {
	// Threshold is the smallest slowdown (a fraction: 0.05 is 5%) that
	// counts as a regression, whatever the noise.
	Threshold float64
	// Alpha is the significance level of the Mann-Whitney test
	// (stats.DefaultAlpha when 0).
	Alpha float64
	// Force compares files of different experiments, specs, profiles,
	// overrides, backends or devices instead of refusing them.
	Force bool
	// Noise is a run-to-run calibration (results.Calibrate), nil for
	// none: then only the noise within the runs is seen.
	Noise *results.Noise
	// Format of the table.
	Format Format
}

// ErrIncomparable is wrapped by the error Compare returns for files it
// refuses to compare.
var ErrIncomparable = errors.New("files are not comparable")

// Compare compares each of files[1:] with files[0], case by case (matched
// by name), as benchstat compares columns, and writes the table to w. It
// reports whether any case regressed.
//
// The unit of replication is a repetition: each case's samples are reduced
// to one median per repetition (results.Case.RepMedians), because the
// tokens of one decode, or the calls of one round, share that repetition's
// state and are not independent; counting them as samples made every
// run-to-run wobble "significant". A row is a REGRESSION when the
// Mann-Whitney U test of the repetition medians is significant at Alpha
// and the change of the median exceeds the smallest change the row could
// detect: the largest of Threshold, the statistical resolution of its
// repetitions (stats.MinDetectable), and its noise. The noise is the
// calibrated run-to-run band of the case when Noise has it, else the
// half-range of the repetition medians (stats.Spread); both are shown.
//
// Files of different experiments, specs, profiles, overrides, backends or
// devices are refused with an error wrapping ErrIncomparable unless
// o.Force; different machines (host, CPU, kernel, …) are compared with a
// warning listing what differs.
func Compare(w io.Writer, files []*results.File, labels []string, o CompareOptions) (regressed bool, err error) {
	if len(files) < 2 || len(labels) != len(files) {
		return false, fmt.Errorf("report: compare: need two or more files with a label each")
	}
	for _, f := range files {
		if f == nil {
			return false, fmt.Errorf("report: compare: nil result file")
		}
	}
	if math.IsNaN(o.Threshold) || o.Threshold < 0 {
		return false, fmt.Errorf("report: compare: threshold %v must be a fraction ≥ 0", o.Threshold)
	}
	if o.Alpha == 0 {
		o.Alpha = stats.DefaultAlpha
	}
	base := files[0]
	for i, f := range files[1:] {
		if d := results.Differences(base, f); len(d) > 0 {
			if !o.Force {
				return false, fmt.Errorf("%w: %s vs %s: %s (use -force to compare anyway)", ErrIncomparable, labels[0], labels[i+1], strings.Join(d, "; "))
			}
			fmt.Fprintf(w, "warning: %s vs %s compared with -force although they differ: %s\n", labels[0], labels[i+1], strings.Join(d, "; "))
		}
		if d := results.MachineDifferences(base, f); len(d) > 0 {
			fmt.Fprintf(w, "warning: %s and %s ran on different machines: %s\n", labels[0], labels[i+1], strings.Join(d, "; "))
		}
	}
	if len(base.Cases) == 0 {
		return false, fmt.Errorf("%w: %s has no cases", ErrIncomparable, labels[0])
	}
	for i, f := range files {
		p := f.Provenance
		fmt.Fprintf(w, "%s: %s, commit %.12s%s, %s, %s profile, load %s → %s\n", labels[i], f.Experiment, orDash(p.GitCommit),
			map[bool]string{true: " (dirty)", false: ""}[p.GitDirty], f.Started.Format("2006-01-02 15:04Z"), orDash(p.Profile),
			loadAvg(p.Host.LoadStart), loadAvg(p.Host.LoadEnd))
	}
	noiseSource := "the half-range of each row's repetition medians (no run-to-run calibration given: pass -noise)"
	if o.Noise != nil {
		noiseSource = fmt.Sprintf("the run-to-run band calibrated from %d runs (%s, %s profile, commit %.12s) where a row has one, else the half-range of its repetition medians",
			o.Noise.Runs, o.Noise.Machine, o.Noise.Profile, o.Noise.Commit)
		if o.Noise.Experiment != base.Experiment || o.Noise.Machine != base.Machine() || o.Noise.Profile != base.Provenance.Profile {
			fmt.Fprintf(w, "warning: the noise calibration is for %s on %s (%s profile), not %s on %s (%s profile)\n",
				o.Noise.Experiment, o.Noise.Machine, o.Noise.Profile, base.Experiment, base.Machine(), orDash(base.Provenance.Profile))
		}
	}

	g := Grid{Header: []string{"case", labels[0]}, Right: []bool{false, true}, Detail: []bool{false, false}}
	for _, l := range labels[1:] {
		g.Header = append(g.Header, l, "Δ", "p (reps)", "noise", "min Δ", "verdict")
		g.Right = append(g.Right, true, true, true, true, true, false)
		g.Detail = append(g.Detail, false, false, false, false, false, false)
	}
	var only []string
	for _, bc := range base.Cases {
		unit := bc.UnitOrDefault()
		row := []string{bc.Name(), MedianPM(stats.Summarize(bc.RepMedians()), unit)}
		for _, f := range files[1:] {
			c, ok := f.Find(bc.Group, bc.Variant)
			if !ok {
				row = append(row, "-", "", "", "", "", "missing")
				only = append(only, fmt.Sprintf("only in %s: %s", labels[0], bc.Name()))
				continue
			}
			if c.UnitOrDefault() != unit {
				row = append(row, "-", "", "", "", "", "units differ: "+unit+" vs "+c.UnitOrDefault())
				continue
			}
			r := compareCase(bc, c, o)
			if r.verdict == "REGRESSION" {
				regressed = true
			}
			row = append(row, MedianPM(stats.Summarize(c.RepMedians()), unit), r.delta, r.p, pct(r.noise), pct(r.min), r.verdict)
		}
		g.Rows = append(g.Rows, row)
	}
	for i, f := range files[1:] {
		for _, c := range f.Cases {
			if _, ok := base.Find(c.Group, c.Variant); !ok {
				only = append(only, fmt.Sprintf("only in %s: %s", labels[i+1], c.Name()))
			}
		}
	}
	if err := g.Render(w, o.Format); err != nil {
		return regressed, err
	}
	for _, s := range only {
		fmt.Fprintln(w, s)
	}
	fmt.Fprint(w, Wrap(fmt.Sprintf("Each case is reduced to one median per repetition; p is the Mann-Whitney U test of those (α=%v). noise: %s. min Δ: the smallest slowdown a row flags, the largest of the threshold (%s), its noise and what its repetitions can resolve (∞: too few to ever be significant; raise -reps). REGRESSION: significant and slower by more than min Δ; faster: significant and faster by more than min Δ; ~: neither.",
		o.Alpha, noiseSource, pct(o.Threshold)), 100))
	return regressed, nil
}

// caseResult is one row's comparison.
type caseResult struct {
	delta, p, verdict string
	noise, min        float64
}

// compareCase compares two cases' repetition medians.
func compareCase(old, cur results.Case, o CompareOptions) caseResult {
	a, b := old.RepMedians(), cur.RepMedians()
	sa, sb := stats.Summarize(a), stats.Summarize(b)
	p := stats.Test(a, b, o.Alpha)
	noise := stats.Spread(a, b)
	if o.Noise != nil {
		if cn, ok := o.Noise.Cases[old.Name()]; ok {
			noise = math.Max(noise, cn.Band)
		}
	}
	minDelta := math.Max(o.Threshold, stats.MinDetectable(a, b, o.Alpha))
	if !math.IsNaN(noise) {
		minDelta = math.Max(minDelta, noise)
	}
	r := caseResult{p: fmt.Sprintf("%s (%d+%d)", pValue(p), sa.N, sb.N), noise: noise, min: minDelta, verdict: "~"}
	if sa.N == 0 || sb.N == 0 || !(sa.Median > 0) {
		r.delta, r.verdict = "?", "no data"
		return r
	}
	change := sb.Median/sa.Median - 1
	r.delta = Percent(change)
	switch {
	case p < o.Alpha && change > minDelta:
		r.verdict = "REGRESSION"
	case p < o.Alpha && change < -minDelta:
		r.verdict = "faster"
	}
	return r
}

// pct formats a fraction as an unsigned percentage, "∞" when unbounded.
func pct(x float64) string {
	switch {
	case math.IsNaN(x):
		return "?"
	case math.IsInf(x, 1):
		return "∞"
	case x < 0.1:
		return fmt.Sprintf("%.1f%%", x*100)
	}
	return fmt.Sprintf("%.0f%%", x*100)
}

// pValue formats a p-value with three decimals, as benchstat does, and
// "<0.001" below that.
func pValue(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func loadAvg(l []float64) string {
	if len(l) == 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", l[0])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
