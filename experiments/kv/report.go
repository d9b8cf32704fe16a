package kv

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// WriteupSpeedup is the write-up's restore-over-re-prefill figure: 67.7 ms
// against 1.4 ms at 24 tokens (Llama 3.2 1B, M1, Metal), reported as 5.45×.
const WriteupSpeedup = 5.45

// row is one context length of one session kind: its cases by operation.
type row struct {
	ctx     int
	session string
	ops     map[string]results.Case
}

// rows groups f's cases by context length and session, in file order.
func rows(f *results.File) []*row {
	var out []*row
	index := map[string]*row{}
	for _, c := range f.Cases {
		key := c.Group + "\x00" + c.Labels["session"]
		r, ok := index[key]
		if !ok {
			r = &row{ctx: int(c.Params["ctx"]), session: c.Labels["session"], ops: map[string]results.Case{}}
			index[key] = r
			out = append(out, r)
		}
		r.ops[c.Labels["op"]] = c
	}
	return out
}

// Table writes three tables. The first has one row per context length and
// session with the medians side by side, the speedups of restoring over
// re-prefilling and the restore bandwidth: "restore" is restore-warm, "cold
// restore" restore-cold, beside it the disk's bandwidth as the restore's
// reader saw it in the same run ("disk GB/s", disk-read), "tcp"
// tcp-migrate, "continues" whether every restore continued the
// conversation token for token. The second is the
// user's time, until the token after the next one is known (the next one is
// known right after either path): re-prefill+token against restore+token,
// that speedup, and the first decode after a restore against a warm
// session's decode step ("1st/decode": the first-token penalty, 1 when
// there is none). The third lists every case with its raw statistics and
// warm-up. The terminal leaves the snapshot, restore bandwidth and decode
// columns to the Markdown file.
func Table(w io.Writer, f *results.File, format report.Format) error {
	med := func(r *row, op string) string {
		c, ok := r.ops[op]
		if !ok {
			return "-"
		}
		return report.Duration(report.Summary(c).Median)
	}
	metric := func(r *row, op, key string, format func(float64) string) string {
		c, ok := r.ops[op]
		if !ok {
			return "-"
		}
		v, ok := c.Metrics[key]
		if !ok {
			return "-"
		}
		return format(v)
	}
	restore := report.Grid{
		Header: []string{"ctx", "session", "re-prefill", "snapshot", "size", "restore", "cold restore", "cold GB/s", "disk GB/s", "tcp",
			"speedup [95% CI]", "speedup cold", "restore GB/s", "continues"},
		Right:  []bool{true, false, true, true, true, true, true, true, true, true, true, true, true, false},
		Detail: []bool{false, false, false, true, true, false, false, true, false, false, false, true, true, false},
	}
	next := report.Grid{
		Header: []string{"ctx", "session", "re-prefill+token", "restore+token", "speedup [95% CI]",
			"decode after re-prefill", "1st decode after restore", "1st/decode [95% CI]"},
		Right:  []bool{true, false, true, true, true, true, true, true},
		Detail: []bool{false, false, false, false, false, true, true, false},
	}
	for _, r := range rows(f) {
		restore.Rows = append(restore.Rows, []string{
			strconv.Itoa(r.ctx), r.session,
			med(r, OpRePrefill), med(r, OpSnapshot), metric(r, OpSnapshot, "bytes", report.Bytes),
			med(r, OpRestoreWarm), med(r, OpRestoreCold), metric(r, OpRestoreCold, "Bps", gbs), metric(r, OpDiskRead, "Bps", gbs), med(r, OpMigrate),
			speedupCI(r.ops[OpRestoreWarm]), speedupCI(r.ops[OpRestoreCold]),
			metric(r, OpRestoreWarm, "Bps", gbs),
			r.ops[OpRestoreWarm].Labels["continuation"],
		})
		next.Rows = append(next.Rows, []string{
			strconv.Itoa(r.ctx), r.session,
			med(r, OpRePrefillToken), med(r, OpRestoreToken), speedupCI(r.ops[OpRestoreToken]),
			med(r, OpDecodeAfterPrefill), med(r, OpDecodeAfterRestore), ratioCI(r.ops[OpDecodeAfterRestore], "penalty"),
		})
	}
	for _, g := range []report.Grid{restore, next} {
		if err := g.Render(w, format); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	cols := []report.Column{report.ColGroup, report.ColVariant, report.ColN, report.ColMedianPM,
		report.ColMedian.Detailed(), report.ColP90.Detailed(), report.ColWarmup.Detailed(),
		report.MetricColumn("bytes", "bytes", report.Bytes).Detailed(),
		report.MetricColumn("GB/s", "Bps", gbs).Detailed(),
		{Header: "speedup [95% CI]", Right: true, Value: speedupCI},
		report.MetricColumn("p (Mann-Whitney)", "speedup_p", func(x float64) string { return fmt.Sprintf("%.3g", x) }).Detailed(),
	}
	return report.Table(w, f, cols, format)
}

func gbs(x float64) string { return fmt.Sprintf("%.3g", x/1e9) }

// speedupCI formats a case's speedup over its recompute path, "-" where it
// has none.
func speedupCI(c results.Case) string { return ratioCI(c, "speedup") }

// ratioCI formats a case's ratio metric key (speedup, penalty) with its CI
// (key_ci_lo, key_ci_hi), "-" where it has none.
func ratioCI(c results.Case, key string) string {
	s, ok := c.Metrics[key]
	if !ok {
		return "-"
	}
	lo, hi := c.Metrics[key+"_ci_lo"], c.Metrics[key+"_ci_hi"]
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return ratio(s) + "× [n too small]"
	}
	return fmt.Sprintf("%s× [%s, %s]", ratio(s), ratio(lo), ratio(hi))
}

// ratio formats a speedup with three significant digits and no exponent:
// 4.77, 12.7, 2020.
func ratio(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Sprint(x)
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// only returns f with just the cases whose op is in keep.
func only(f *results.File, keep ...string) *results.File {
	g := *f
	g.Cases = nil
	for _, c := range f.Cases {
		if slices.Contains(keep, c.Labels["op"]) {
			g.Cases = append(g.Cases, c)
		}
	}
	return &g
}

// Figures draws against context length (a) re-prefill and restore time,
// (b) the speedup of restore over re-prefill, and of restore+token over
// re-prefill+token (the user's time to the next token), with the
// write-up's 5.45× and break-even for reference and a marker where the
// first session's warm restore crosses break-even, if it does, and (c) the
// time to the next token on both paths with the decode step inside each:
// a first decode after a restore that costs more than a warm session's is
// the restore's first-token penalty.
func Figures(dir, stem string, f *results.File) ([]string, error) {
	var ticks []float64
	for _, r := range rows(f) {
		if !slices.Contains(ticks, float64(r.ctx)) {
			ticks = append(ticks, float64(r.ctx))
		}
	}
	slices.Sort(ticks)
	if len(ticks) == 0 {
		return nil, fmt.Errorf("kv figures: no cases")
	}
	times := filepath.Join(dir, stem+"-times")
	if err := report.LinePlot(times, report.LineSpec{
		Title:  report.Title("KV cache: recompute vs restore from a snapshot (median, 95% CI)", f),
		XLabel: "context length (tokens)", YLabel: "time (ms)", LogX: true, LogY: true, XTicks: ticks,
		Series: report.MedianSeries(only(f, OpRePrefill, OpRestoreWarm, OpRestoreCold), "ctx", 1e3),
	}); err != nil {
		return nil, fmt.Errorf("times figure: %w", err)
	}

	var series []report.Series
	for _, op := range []string{OpRestoreWarm, OpRestoreCold, OpRestoreToken} {
		series = append(series, speedupSeries(f, op)...)
	}
	lo, hi := ticks[0], ticks[len(ticks)-1]
	series = append(series,
		report.Series{Name: fmt.Sprintf("write-up %.2f× (M1)", WriteupSpeedup), X: []float64{lo, hi}, Y: []float64{WriteupSpeedup, WriteupSpeedup}},
		report.Series{Name: "break-even 1×", X: []float64{lo, hi}, Y: []float64{1, 1}})
	spec := report.LineSpec{
		Title:  report.Title("KV cache: speedup of restore over re-prefill, and to the next token (medians, 95% bootstrap CI)", f),
		XLabel: "context length (tokens)", YLabel: "speedup over re-prefill (×)", LogX: true, LogY: true, XTicks: ticks,
		Series: series,
	}
	if len(series) > 2 {
		if x, slower, ok := crossover(series[0]); ok {
			side := map[bool]string{true: "slower", false: "faster"}[slower]
			spec.VLine = &report.VLine{X: x, Label: fmt.Sprintf("%s: break-even ≈%.0f tokens, restore %s above", series[0].Name, x, side)}
		}
	}
	speed := filepath.Join(dir, stem+"-speedup")
	if err := report.LinePlot(speed, spec); err != nil {
		return []string{times}, fmt.Errorf("speedup figure: %w", err)
	}
	next := filepath.Join(dir, stem+"-next-token")
	if err := report.LinePlot(next, report.LineSpec{
		Title:  report.Title("KV cache: time to the next token, and the decode step in it (median, 95% CI)", f),
		XLabel: "context length (tokens)", YLabel: "time (ms)", LogX: true, LogY: true, XTicks: ticks,
		Series: report.MedianSeries(only(f, OpRePrefillToken, OpRestoreToken, OpDecodeAfterPrefill, OpDecodeAfterRestore), "ctx", 1e3),
	}); err != nil {
		return []string{times, speed}, fmt.Errorf("next-token figure: %w", err)
	}
	return []string{times, speed, next}, nil
}

// speedupSeries makes one series per session of op's speedup against
// context length, with its bootstrap CI as error bars.
func speedupSeries(f *results.File, op string) []report.Series {
	var out []report.Series
	index := map[string]int{}
	for _, c := range f.Cases {
		s, ok := c.Metrics["speedup"]
		if c.Labels["op"] != op || !ok {
			continue
		}
		i, seen := index[c.Variant]
		if !seen {
			i = len(out)
			index[c.Variant] = i
			out = append(out, report.Series{Name: c.Variant})
		}
		out[i].X = append(out[i].X, c.Params["ctx"])
		out[i].Y = append(out[i].Y, s)
		out[i].Lo = append(out[i].Lo, c.Metrics["speedup_ci_lo"])
		out[i].Hi = append(out[i].Hi, c.Metrics["speedup_ci_hi"])
	}
	for i := range out {
		sortSeries(&out[i])
	}
	return out
}

// sortSeries orders a series' points by X.
func sortSeries(s *report.Series) {
	idx := make([]int, len(s.X))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case s.X[a] < s.X[b]:
			return -1
		case s.X[a] > s.X[b]:
			return 1
		}
		return 0
	})
	pick := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, j := range idx {
			out[i] = v[j]
		}
		return out
	}
	s.X, s.Y, s.Lo, s.Hi = pick(s.X), pick(s.Y), pick(s.Lo), pick(s.Hi)
}

// crossover is the first context length where a speedup series crosses 1
// (break-even), interpolated linearly in log(x) between the two points on
// either side; slowerAbove says whether restore loses above it (the
// series falls through 1) or wins above it. ok is false if it never crosses.
func crossover(s report.Series) (x float64, slowerAbove, ok bool) {
	for i := 1; i < len(s.Y); i++ {
		y0, y1 := s.Y[i-1], s.Y[i]
		if !((y0-1)*(y1-1) < 0) {
			continue
		}
		x0, x1 := math.Log(s.X[i-1]), math.Log(s.X[i])
		t := (y0 - 1) / (y0 - y1)
		return math.Exp(x0 + t*(x1-x0)), y1 < 1, true
	}
	return 0, false, false
}
