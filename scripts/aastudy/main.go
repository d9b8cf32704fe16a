// Command aastudy measures how often harness compare flags two runs of the
// same code (the false-alarm rate) and whether it catches a real slowdown,
// on this machine. scripts/aa-study.sh runs it; see README.md
// ("Comparing runs").
//
// It runs the harness (-harness, built from this commit) on one experiment's
// quick profile: -pairs A/A pairs (two plain runs, back to back), -slowed
// pairs whose second run has every measured operation made -slowdown slower
// (WASMGPU_TEST_SLOWDOWN, a test-only knob), and k calibration runs spread
// among them, from which it computes the run-to-run noise
// (results.Calibrate, written as noise-<exp>-quick.json) that judges the
// pairs. Each pair is
// judged as `harness compare -noise` judges it (report.Judge), and also
// without the calibration, to show what it changes. It writes
// aa-study.json (every pair's rows), aa-study.md (the summary) and
// aa-study.png/.svg (each pair's largest slowdown over its row's min Δ) into
// -out. The raw runs go to -scratch (a temporary folder by default) and are
// not kept: the calibration and the summary are the result.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// options are the command's flags.
type options struct {
	harness, exp, out, scratch string
	k, pairs, slowed           int
	slowdown, threshold        float64
}

// pair is one judged pair of runs.
type pair struct {
	Kind       string           `json:"kind"` // "A/A" or "slowed"
	Base       string           `json:"base"`
	Cur        string           `json:"cur"`
	Flagged    bool             `json:"flagged"`              // compare -noise would exit 1
	Rows       []string         `json:"flagged_rows"`         // its REGRESSION rows
	Uncal      bool             `json:"flagged_uncalibrated"` // compare without -noise would exit 1
	Geomean    float64          `json:"geomean_delta"`
	WorstRatio float64          `json:"worst_ratio"` // the largest Δ / min Δ over the rows and the geomean
	LoadStart  float64          `json:"load_start"`
	LoadEnd    float64          `json:"load_end"`
	Judgement  report.Judgement `json:"judgement"`
}

// study is aa-study.json.
type study struct {
	Experiment  string    `json:"experiment"`
	Machine     string    `json:"machine"`
	Commit      string    `json:"commit"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Calibration int       `json:"calibration_runs"`
	Slowdown    float64   `json:"injected_slowdown"`
	Threshold   float64   `json:"threshold"`
	Method      string    `json:"method"`
	Load        []float64 `json:"load_avg_1min"` // every run's 1-minute load average at its start and end
	Pairs       []pair    `json:"pairs"`
}

func main() {
	var o options
	flag.StringVar(&o.harness, "harness", "bin/harness", "the harness binary to run")
	flag.StringVar(&o.exp, "exp", "matmul", "experiment (its quick profile runs)")
	flag.StringVar(&o.out, "out", "", "folder for the calibration and the study (default results/<machine>/aa-study)")
	flag.StringVar(&o.scratch, "scratch", "", "folder for the raw runs (default: a temporary one, removed)")
	flag.IntVar(&o.k, "k", 10, "calibration runs")
	flag.IntVar(&o.pairs, "pairs", 20, "A/A pairs")
	flag.IntVar(&o.slowed, "slowed", 5, "pairs whose second run is slowed down")
	flag.Float64Var(&o.slowdown, "slowdown", 0.10, "the injected slowdown, a fraction")
	flag.Float64Var(&o.threshold, "threshold", 0.05, "compare's -threshold")
	from := flag.String("from", "", "rewrite the summary and figure of this aa-study.json instead of running a study")
	flag.Parse()
	if *from != "" {
		if err := rewrite(*from); err != nil {
			fmt.Fprintln(os.Stderr, "aastudy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "aastudy:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.k < 3 || o.pairs < 1 || o.slowed < 0 {
		return fmt.Errorf("want -k ≥ 3, -pairs ≥ 1, -slowed ≥ 0")
	}
	if o.scratch == "" {
		dir, err := os.MkdirTemp("", "aastudy-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.scratch = dir
	}
	s := &study{Experiment: o.exp, Calibration: o.k, Slowdown: o.slowdown, Threshold: o.threshold, Started: time.Now().UTC(),
		Method: "per row: the Mann-Whitney U test of the repetition medians at α=0.05, and a slowdown of the fastest repetition beyond min Δ = max(threshold, the calibrated run-to-run band of the case, what its repetitions can resolve); the geomean row against its own calibrated band. A pair is flagged when any row is a REGRESSION (harness compare -noise exits 1)."}
	runOne := func(what string, slow bool) (*results.File, string, error) {
		f, path, err := runHarness(o, slow)
		if err == nil {
			s.Load = append(s.Load, first(f.Provenance.Host.LoadStart), first(f.Provenance.Host.LoadEnd))
			fmt.Fprintf(os.Stderr, "aastudy: %s: %s (load %.2f → %.2f)\n", what, filepath.Base(path), first(f.Provenance.Host.LoadStart), first(f.Provenance.Host.LoadEnd))
		}
		return f, path, err
	}
	// Interleave: a slowed pair after every pairs/slowed A/A pairs, and
	// the calibration runs spread evenly among the pairs, so that the
	// calibration sees the same stretch of the machine's load as the
	// pairs it judges (a calibration made before them, in a quieter or a
	// busier quarter of an hour, would misjudge them).
	var kinds []string
	for i := range o.pairs {
		kinds = append(kinds, "A/A")
		if o.slowed > 0 && (i+1)%max(1, o.pairs/o.slowed) == 0 && countOf(kinds, "slowed") < o.slowed {
			kinds = append(kinds, "slowed")
		}
	}
	for countOf(kinds, "slowed") < o.slowed {
		kinds = append(kinds, "slowed")
	}
	calBefore := map[int]int{}
	for c := range o.k {
		calBefore[c*len(kinds)/o.k]++
	}
	var cal []*results.File
	type runPair struct {
		kind      string
		base, cur *results.File
		bp, cp    string
	}
	var runs []runPair
	for i, kind := range kinds {
		for range calBefore[i] {
			f, _, err := runOne(fmt.Sprintf("calibration run %d/%d", len(cal)+1, o.k), false)
			if err != nil {
				return err
			}
			cal = append(cal, f)
		}
		base, bp, err := runOne(fmt.Sprintf("pair %d/%d (%s) base", i+1, len(kinds), kind), false)
		if err != nil {
			return err
		}
		cur, cp, err := runOne(fmt.Sprintf("pair %d/%d (%s) new", i+1, len(kinds), kind), kind == "slowed")
		if err != nil {
			return err
		}
		if d := results.Differences(base, cur); len(d) > 0 {
			return fmt.Errorf("pair %d: the runs differ: %v", i+1, d)
		}
		runs = append(runs, runPair{kind, base, cur, bp, cp})
	}
	noise, err := results.Calibrate(cal)
	if err != nil {
		return err
	}
	s.Machine, s.Commit = noise.Machine, noise.Commit
	if o.out == "" {
		o.out = filepath.Join("results", results.Slug(noise.Machine), "aa-study")
	}
	if err := noise.WriteAtomic(filepath.Join(o.out, "noise-"+o.exp+"-quick.json")); err != nil {
		return err
	}
	withNoise := report.CompareOptions{Threshold: o.threshold, Noise: noise}
	without := report.CompareOptions{Threshold: o.threshold}
	for i, r := range runs {
		j := report.Judge(r.base, r.cur, withNoise)
		p := pair{Kind: r.kind, Base: filepath.Base(r.bp), Cur: filepath.Base(r.cp), Flagged: j.Regressed, Judgement: j,
			Uncal: report.Judge(r.base, r.cur, without).Regressed, Geomean: j.Geomean.Delta, WorstRatio: math.Inf(-1),
			LoadStart: first(r.base.Provenance.Host.LoadStart), LoadEnd: first(r.cur.Provenance.Host.LoadEnd)}
		p.Rows, p.WorstRatio = worst(j)
		fmt.Fprintf(os.Stderr, "aastudy: pair %d (%s): flagged %v %v; uncalibrated %v; geomean %+.1f%%\n", i+1, r.kind, p.Flagged, p.Rows, p.Uncal, 100*p.Geomean)
		s.Pairs = append(s.Pairs, p)
	}
	s.Finished = time.Now().UTC()
	return s.write(o.out)
}

// worst returns the rows j flags and the largest slowdown over its row's
// min Δ among the rows compare could flag: judged (not busy) with a
// significant test, and the geomean row (judged by its band alone). A pair
// is flagged exactly when it is above 1.
func worst(j report.Judgement) ([]string, float64) {
	var rows []string
	ratio := 0.0
	for i, row := range append(slices.Clone(j.Rows), j.Geomean) {
		if row.Verdict == "REGRESSION" {
			rows = append(rows, row.Case)
		}
		geomean := i == len(j.Rows)
		could := (geomean && row.Verdict != "n/a" && row.Verdict != "no data") ||
			(!geomean && row.P < 0.05 && (row.Verdict == "~" || row.Verdict == "REGRESSION" || row.Verdict == "faster"))
		if could && row.Min > 0 && !math.IsInf(row.Min, 0) && !math.IsNaN(row.Delta) {
			ratio = math.Max(ratio, row.Delta/row.Min)
		}
	}
	return rows, ratio
}

// rewrite recomputes each pair's summary from its recorded judgement (and
// the calibration beside it) and writes the study's Markdown and figure
// again (-from): the study's runs are not repeated.
func rewrite(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s study
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	noise, err := results.LoadNoise(filepath.Join(filepath.Dir(path), "noise-"+s.Experiment+"-quick.json"))
	if err != nil {
		return err
	}
	for i := range s.Pairs {
		p := &s.Pairs[i]
		rejudge(&p.Judgement, noise)
		p.Flagged = p.Judgement.Regressed
		p.Rows, p.WorstRatio = worst(p.Judgement)
	}
	return s.write(filepath.Dir(path))
}

// rejudge applies what report.Judge does with a calibration to a
// recorded judgement: a row whose case the calibration has no band for is
// "no band", not judged.
func rejudge(j *report.Judgement, n *results.Noise) {
	j.Regressed = false
	for i := range j.Rows {
		r := &j.Rows[i]
		if _, ok := n.Cases[r.Case]; !ok && r.Verdict != "busy" && r.Verdict != "missing" && r.Verdict != "no data" {
			r.Verdict = "no band"
		}
		j.Regressed = j.Regressed || r.Verdict == "REGRESSION"
	}
	j.Regressed = j.Regressed || j.Geomean.Verdict == "REGRESSION"
}

// runHarness runs one quick run and returns its result file.
func runHarness(o options, slow bool) (*results.File, string, error) {
	cmd := exec.Command(o.harness, "-exp", o.exp, "-quick", "-backend", "cpu", "-no-progress", "-format", "csv", "-out", o.scratch)
	cmd.Env = os.Environ()
	if slow {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%g", experiments.SlowdownEnv, o.slowdown))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	m := regexp.MustCompile(`harness: wrote (\S+\.json),`).FindStringSubmatch(stderr.String())
	if m == nil {
		return nil, "", fmt.Errorf("%s: no result file named in its output:\n%s", strings.Join(cmd.Args, " "), stderr.String())
	}
	f, err := results.Load(m[1])
	return f, m[1], err
}

// write writes the study's JSON, Markdown and figure into dir.
func (s *study) write(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := results.WriteFile(filepath.Join(dir, "aa-study.json"), append(data, '\n')); err != nil {
		return err
	}
	var aa, slowed []pair
	for _, p := range s.Pairs {
		if p.Kind == "A/A" {
			aa = append(aa, p)
		} else {
			slowed = append(slowed, p)
		}
	}
	flagged := func(ps []pair, uncal bool) int {
		n := 0
		for _, p := range ps {
			if (!uncal && p.Flagged) || (uncal && p.Uncal) {
				n++
			}
		}
		return n
	}
	load := stats.Summarize(s.Load)
	var b strings.Builder
	fmt.Fprintf(&b, "# False-alarm study of `harness compare` (%s, quick profile, %s)\n\n", s.Experiment, s.Machine)
	fmt.Fprintf(&b, "Commit %s, %s to %s. Made by `scripts/aa-study.sh` (the numbers below are its output; rerun it to reproduce).\n\n",
		s.Commit, s.Started.Format(time.RFC3339), s.Finished.Format(time.RFC3339))
	fmt.Fprintf(&b, "| | pairs | flagged by `compare -noise` | flagged without the calibration |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| A/A (same commit, back to back) | %d | **%d** | %d |\n", len(aa), flagged(aa, false), flagged(aa, true))
	fmt.Fprintf(&b, "| second run %.0f%% slower (%s) | %d | **%d** | %d |\n\n", 100*s.Slowdown, experiments.SlowdownEnv, len(slowed), flagged(slowed, false), flagged(slowed, true))
	fmt.Fprintf(&b, "Calibration: %d runs spread among the pairs (`noise-%s-quick.json`, the file CI's gate uses). Threshold %.0f%%. %s\n\n", s.Calibration, s.Experiment, 100*s.Threshold, s.Method)
	fmt.Fprintf(&b, "Machine load (1-minute load average at each run's start and end, %d readings on %s): median %.2f, min %.2f, max %.2f. The machine was shared with other engineers' builds and tests while this ran.\n\n",
		len(s.Load), s.Machine, load.Median, load.Min, load.Max)
	fmt.Fprintf(&b, "| pair | kind | flagged | rows flagged | geomean Δ | worst Δ ÷ min Δ (flagged above 1) | load |\n|---|---|---|---|---|---|---|\n")
	for i, p := range s.Pairs {
		fmt.Fprintf(&b, "| %d | %s | %v | %s | %+.1f%% | %.2f | %.2f → %.2f |\n", i+1, p.Kind, p.Flagged, strings.Join(p.Rows, ", "), 100*p.Geomean, p.WorstRatio, p.LoadStart, p.LoadEnd)
	}
	fmt.Fprintf(&b, "\n![study](aa-study.png)\n")
	if err := results.WriteFile(filepath.Join(dir, "aa-study.md"), []byte(b.String())); err != nil {
		return err
	}
	var series []report.Series
	for _, kind := range []string{"A/A", "slowed"} {
		sr := report.Series{Name: map[string]string{"A/A": "A/A pairs", "slowed": fmt.Sprintf("%.0f%% slowdown injected", 100*s.Slowdown)}[kind], Points: true}
		for i, p := range s.Pairs {
			if p.Kind == kind {
				sr.X = append(sr.X, float64(i+1))
				sr.Y = append(sr.Y, p.WorstRatio)
			}
		}
		series = append(series, sr)
	}
	series = append(series, report.Series{Name: "flag line (Δ = min Δ)", X: []float64{1, float64(len(s.Pairs))}, Y: []float64{1, 1}})
	return report.LinePlot(filepath.Join(dir, "aa-study"), report.LineSpec{
		Title: fmt.Sprintf("harness compare: the largest slowdown ÷ its row's min Δ, per pair (above 1: flagged)\n"+
			"rows compare could flag (not busy, p < 0.05) and the geomean; %s quick on %s, commit %.7s", s.Experiment, s.Machine, s.Commit),
		XLabel: "pair (in run order)", YLabel: "worst Δ ÷ min Δ", Series: series,
	})
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

func first(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[0]
}
