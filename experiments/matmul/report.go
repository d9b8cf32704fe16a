package matmul

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// Table writes the per-case table: latency, throughput, correctness, memory
// cost, the zero-copy proof and the ratio to the native variant. The
// terminal table leaves the CI bounds, tail latencies and staging columns
// to the Markdown file.
func Table(w io.Writer, f *results.File, format report.Format) error {
	cols := []report.Column{
		report.ColGroup, report.ColVariant, report.ColN, report.ColMedianPM,
		report.ColMedian.Detailed(), report.ColP90.Detailed(), report.ColP99.Detailed(),
		report.MetricColumn("GFLOP/s", "gflops", func(x float64) string { return fmt.Sprintf("%.1f", x) }),
		report.MetricColumn("rel err", "max_rel_err", func(x float64) string { return fmt.Sprintf("%.1e", x) }),
		report.MetricColumn("RSS Δ", "rss_delta_bytes", report.Bytes),
		report.MetricColumn("staging", "staging_bytes", report.Bytes).Detailed(),
		report.MetricColumn("copied/call", "copied_bytes_per_call", report.Bytes).Detailed(),
		report.LabelColumn("in place", "in_place"),
		{Header: "÷ native", Right: true, Value: func(c results.Case) string { return ratioToNative(f, c, false) }},
		{Header: "vs native", Right: true, Detail: true, Value: func(c results.Case) string { return ratioToNative(f, c, true) }},
	}
	return report.Table(w, f, cols, format)
}

// baseline is the native case a variant is compared with: native in the same
// mode if measured, else the first native variant of the group.
func baseline(f *results.File, c results.Case) (results.Case, bool) {
	if !strings.HasPrefix(c.Variant, "wasm-") {
		return results.Case{}, false
	}
	if b, ok := f.Find(c.Group, "native-"+strings.TrimPrefix(c.Variant, "wasm-")); ok {
		return b, true
	}
	for _, b := range f.Cases {
		if b.Group == c.Group && strings.HasPrefix(b.Variant, "native-") {
			return b, true
		}
	}
	return results.Case{}, false
}

// ratioToNative is c's median over its baseline's, with the baseline's
// name when named is set.
func ratioToNative(f *results.File, c results.Case, named bool) string {
	b, ok := baseline(f, c)
	if !ok {
		return ""
	}
	r := report.Summary(c).Median / report.Summary(b).Median
	if named {
		return fmt.Sprintf("%.3f× (%s)", r, b.Variant)
	}
	return fmt.Sprintf("%.3f", r)
}

// sizeCases keeps the cases of the size sweep (groups "n=…"), not the
// region or host-call cases, for plotting against n.
func sizeCases(f *results.File) *results.File {
	out := *f
	out.Cases = nil
	for _, c := range f.Cases {
		if strings.HasPrefix(c.Group, "n=") {
			out.Cases = append(out.Cases, c)
		}
	}
	return &out
}

// Crossover returns the smallest n from which variant a is slower than b at
// every larger size measured, having been faster below it; false if a never
// turns slower, or is never faster.
func Crossover(f *results.File, a, b string) (float64, bool) {
	sf := sizeCases(f)
	type pt struct{ n, ra float64 }
	var pts []pt
	for _, c := range sf.Cases {
		if c.Variant != a {
			continue
		}
		cb, ok := sf.Find(c.Group, b)
		if !ok {
			continue
		}
		pts = append(pts, pt{c.Params["n"], report.Summary(c).Median / report.Summary(cb).Median})
	}
	cross := math.NaN()
	faster := false
	for _, p := range pts { // sizes are in run order, ascending in the spec
		switch {
		case p.ra < 1:
			faster, cross = true, math.NaN()
		case math.IsNaN(cross):
			cross = p.n
		}
	}
	return cross, faster && !math.IsNaN(cross)
}

// Figures draws latency against n for every variant (log-log, CI bars) and
// the resident-memory cost of each variant per case, into dir/stem-*.png/svg.
// It returns the paths written, without extension.
func Figures(dir, stem string, f *results.File) ([]string, error) {
	sf := sizeCases(f)
	lat := filepath.Join(dir, stem+"-latency")
	spec := report.LineSpec{
		Title:  report.Title("matmul C=A·B, fp32: latency per call (median, 95% CI)", f),
		XLabel: "n (A, B and C are n×n)", YLabel: "time per call (ms)",
		LogX: true, LogY: true, Series: report.MedianSeries(sf, "n", 1e3),
	}
	for _, c := range sf.Cases {
		if c.Variant == sf.Cases[0].Variant {
			spec.XTicks = append(spec.XTicks, c.Params["n"])
		}
	}
	if n, ok := Crossover(f, "wasm-mapped", "wasm-copy"); ok {
		spec.VLine = &report.VLine{X: n, Label: fmt.Sprintf("mapped slower than copy from n=%g", n)}
	} else if n, ok := Crossover(f, "wasm-zerocopy", "wasm-copy"); ok {
		spec.VLine = &report.VLine{X: n, Label: fmt.Sprintf("zero-copy slower than copy from n=%g", n)}
	}
	if err := report.LinePlot(lat, spec); err != nil {
		return nil, fmt.Errorf("latency figure: %w", err)
	}
	paths := []string{lat}

	var groups []string
	var variants []string
	seenG, seenV := map[string]bool{}, map[string]bool{}
	for _, c := range f.Cases {
		if _, ok := c.Metrics["rss_delta_bytes"]; !ok {
			continue
		}
		if !seenG[c.Group] {
			seenG[c.Group] = true
			groups = append(groups, c.Group)
		}
		if !seenV[c.Variant] {
			seenV[c.Variant] = true
			variants = append(variants, c.Variant)
		}
	}
	bars := report.BarSpec{
		Title:  report.Title("resident memory a variant retains (RSS after its warm-up − before, after GC)", f),
		XLabel: "case (matrix size n, or a region of A+B+C)", YLabel: "RSS Δ (MiB)", Groups: groups,
		Format: func(x float64) string { return report.Bytes(x * (1 << 20)) },
	}
	for _, v := range variants {
		s := report.BarSeries{Name: v}
		for _, g := range groups {
			val := math.NaN()
			if c, ok := f.Find(g, v); ok {
				val = c.Metrics["rss_delta_bytes"] / (1 << 20)
			}
			s.Values = append(s.Values, val)
		}
		bars.Series = append(bars.Series, s)
	}
	mem := filepath.Join(dir, stem+"-rss")
	if err := report.BarPlot(mem, bars); err != nil {
		return paths, fmt.Errorf("rss figure: %w", err)
	}
	return append(paths, mem), nil
}
