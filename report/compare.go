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
// run-to-run wobble "significant". A change is measured on each run's
// fastest repetition (stats.Fastest: other tenants only ever add time). A
// row is a REGRESSION when the Mann-Whitney U test of the repetition
// medians is significant at Alpha and the change exceeds the smallest
// change the row could detect: the largest of Threshold, the statistical
// resolution of its repetitions (stats.MinDetectable), and its noise. The
// noise is the calibrated run-to-run band of the case when Noise has it,
// else the half-range of the repetition medians (stats.Spread); both are
// shown. A case measured while other processes used more than results.BusyCores
// (results.MetricOthersCPU, on either side) is not judged: "busy".
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
		if busy, most := busyCases(f); busy > 0 {
			fmt.Fprintf(w, "warning: %s: %d of %d cases ran while other processes used more than %.2g of a core (up to %.2g): not judged (busy)\n",
				labels[i], busy, len(f.Cases), results.BusyCores, most)
		}
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

	g := Grid{Header: []string{"case", labels[0]}, Right: []bool{false, true}}
	for _, l := range labels[1:] {
		g.Header = append(g.Header, l, "Δ", "p (reps)", "noise", "min Δ", "verdict")
		g.Right = append(g.Right, true, true, true, true, true, false)
	}
	judged := make([]Judgement, len(files)-1)
	for i, f := range files[1:] {
		judged[i] = Judge(base, f, o)
		regressed = regressed || judged[i].Regressed
	}
	var only []string
	for r, bc := range base.Cases {
		row := []string{bc.Name(), Value(stats.Fastest(bc.RepMedians()), bc.UnitOrDefault())}
		for _, j := range judged {
			v := j.Rows[r]
			switch {
			case v.Verdict == "missing":
				only = append(only, fmt.Sprintf("only in %s: %s", labels[0], bc.Name()))
				fallthrough
			case v.Value == "":
				row = append(row, "-", "", "", "", "", v.Verdict)
			default:
				row = append(row, v.Value, Percent(v.Delta), fmt.Sprintf("%s (%d+%d)", pValue(v.P), v.N[0], v.N[1]), pct(v.Noise), pct(v.Min), v.Verdict)
			}
		}
		g.Rows = append(g.Rows, row)
	}
	geo := []string{"geomean", ""}
	for _, j := range judged {
		v := j.Geomean
		geo = append(geo, "", Percent(v.Delta), "", pct(v.Noise), pct(v.Min), v.Verdict)
	}
	g.Rows = append(g.Rows, geo)
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
	fmt.Fprint(w, Wrap(fmt.Sprintf("Each case is reduced to one median per repetition; times and Δ are of the fastest repetition (other tenants only add time); p is the Mann-Whitney U test of the repetition medians (α=%v). noise: %s. min Δ: the smallest slowdown a row flags, the largest of the threshold (%s), its noise and what its repetitions can resolve (∞: too few to ever be significant; raise -reps). REGRESSION: significant and slower by more than min Δ; faster: significant and faster by more than min Δ; ~: neither; busy: measured while other processes used more than %.2g of a core, not judged; no band: the calibration has none for the case, not judged. geomean: the geometric mean of the rows' ratios, judged against its calibrated band only (a slowdown of every case; n/a without -noise).",
		o.Alpha, noiseSource, pct(o.Threshold), results.BusyCores), 100))
	return regressed, nil
}

// Judgement is one file judged against a base: a RowJudgement per case of
// the base, in its order, and one for the geometric mean of the rows.
type Judgement struct {
	Rows      []RowJudgement
	Geomean   RowJudgement
	Regressed bool
}

// RowJudgement is one row of a comparison.
type RowJudgement struct {
	Case  string
	Value string  // the new fastest repetition median, "" when the case cannot be compared
	Delta float64 // relative change of the fastest repetition median
	P     float64 // Mann-Whitney p-value of the repetition medians
	N     [2]int  // repetitions, base and new
	Noise float64 // what the row is judged against (see Compare)
	Min   float64 // min Δ: the smallest slowdown it flags
	// Verdict is "REGRESSION", "faster", "~", "busy" (a side was measured
	// while other processes used more than results.BusyCores), "missing", "no data",
	// "n/a" (a geomean without a calibration) or "units differ: …".
	Verdict string
}

// Judge compares cur with base case by case, and the geometric mean of
// their ratios (see Compare for the rules). It does not check that the
// files are comparable; Compare does.
func Judge(base, cur *results.File, o CompareOptions) Judgement {
	if o.Alpha == 0 {
		o.Alpha = stats.DefaultAlpha
	}
	var j Judgement
	var logs []float64
	for _, bc := range base.Cases {
		c, ok := cur.Find(bc.Group, bc.Variant)
		switch {
		case !ok:
			j.Rows = append(j.Rows, RowJudgement{Case: bc.Name(), Verdict: "missing"})
			continue
		case c.UnitOrDefault() != bc.UnitOrDefault():
			j.Rows = append(j.Rows, RowJudgement{Case: bc.Name(), Verdict: "units differ: " + bc.UnitOrDefault() + " vs " + c.UnitOrDefault()})
			continue
		}
		r := judgeCase(bc, c, o)
		if r.Verdict == "REGRESSION" {
			j.Regressed = true
		}
		if !math.IsNaN(r.Delta) && r.Delta > -1 && r.Verdict != "busy" && r.Verdict != "no band" {
			logs = append(logs, math.Log1p(r.Delta))
		}
		j.Rows = append(j.Rows, r)
	}
	j.Geomean = RowJudgement{Case: "geomean", Delta: math.NaN(), Noise: math.NaN(), Min: math.NaN(), Verdict: "no data"}
	if len(logs) > 0 {
		g := &j.Geomean
		sum := 0.0
		for _, l := range logs {
			sum += l
		}
		g.Delta = math.Expm1(sum / float64(len(logs)))
		g.Verdict = "n/a"
		if o.Noise != nil {
			if cn, ok := o.Noise.Cases[results.GeomeanCase]; ok {
				g.Noise, g.Min = cn.Band, math.Max(o.Threshold, cn.Band)
				g.Verdict = "~"
				switch {
				case g.Delta > g.Min:
					g.Verdict, j.Regressed = "REGRESSION", true
				case g.Delta < -g.Min:
					g.Verdict = "faster"
				}
			}
		}
	}
	return j
}

// judgeCase compares two cases' repetition medians.
func judgeCase(old, cur results.Case, o CompareOptions) RowJudgement {
	a, b := old.RepMedians(), cur.RepMedians()
	sa, sb := stats.Summarize(a), stats.Summarize(b)
	r := RowJudgement{Case: old.Name(), Value: Value(stats.Fastest(b), cur.UnitOrDefault()), N: [2]int{sa.N, sb.N},
		P: stats.Test(a, b, o.Alpha), Noise: stats.Spread(a, b), Verdict: "~", Delta: math.NaN()}
	banded := true
	if o.Noise != nil {
		var cn results.CaseNoise
		cn, banded = o.Noise.Cases[old.Name()]
		if banded {
			r.Noise = cn.Band // the run-to-run noise of what is compared, the fastest repetition
		}
	}
	r.Min = math.Max(o.Threshold, stats.MinDetectable(a, b, o.Alpha))
	if !math.IsNaN(r.Noise) {
		r.Min = math.Max(r.Min, r.Noise)
	}
	fa, fb := stats.Fastest(a), stats.Fastest(b)
	if sa.N == 0 || sb.N == 0 || !(fa > 0) {
		r.Verdict = "no data"
		return r
	}
	r.Delta = fb/fa - 1
	switch {
	case old.Busy() || cur.Busy():
		r.Verdict = "busy"
	case !banded:
		// The calibration has no band for this case (it was busy in most
		// calibration runs): its within-run spread says nothing of how far
		// a second run lands, so it is shown, not judged.
		r.Verdict = "no band"
	case r.P < o.Alpha && r.Delta > r.Min:
		r.Verdict = "REGRESSION"
	case r.P < o.Alpha && r.Delta < -r.Min:
		r.Verdict = "faster"
	}
	return r
}

// busyCases counts f's busy cases, and the most CPU others used in one.
func busyCases(f *results.File) (busy int, most float64) {
	for _, c := range f.Cases {
		if c.Busy() {
			busy++
			most = math.Max(most, c.Metrics[results.MetricOthersCPU])
		}
	}
	return busy, most
}

// pct formats a fraction as an unsigned percentage, ">999%" from 10 up,
// "∞" when unbounded.
func pct(x float64) string {
	switch {
	case math.IsNaN(x):
		return "?"
	case math.IsInf(x, 1):
		return "∞"
	case x >= 10:
		return ">999%"
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
