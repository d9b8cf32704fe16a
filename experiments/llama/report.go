package llama

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// Table writes decode latency per token (one row per prompt length and
// variant) with throughput, prefill and time to first token, the achieved
// weight bandwidth against the measured one, the ratio to native and, for
// a program variant, to the same variant op by op, and a guest's host calls
// per token; then the prefill rows. The terminal table leaves the CI
// bounds, tails, bandwidth details and host calls to the Markdown file.
func Table(w io.Writer, f *results.File, format report.Format) error {
	decode, prefill := split(f)
	gbs := func(x float64) string { return fmt.Sprintf("%.1f", x/1e9) }
	cols := []report.Column{
		report.ColGroup, report.ColVariant, report.ColN,
		{Header: "decode/token", Right: true, Value: func(c results.Case) string { return report.MedianPM(report.Summary(c), "s") }},
		{Header: "decode/token [95% CI]", Right: true, Detail: true, Value: func(c results.Case) string { return report.MedianCI(report.Summary(c), "s") }},
		report.ColP90.Detailed(), report.ColP99.Detailed(),
		report.MetricColumn("tok/s", "tokens_per_s", func(x float64) string { return fmt.Sprintf("%.1f", x) }),
		report.MetricColumn("prefill", "prefill_median_s", report.Duration),
		report.MetricColumn("prefill tok/s", "prefill_tokens_per_s", func(x float64) string { return fmt.Sprintf("%.0f", x) }).Detailed(),
		report.MetricColumn("TTFT", "ttft_median_s", report.Duration).Detailed(),
		report.MetricColumn("GB/s", "achieved_Bps", gbs).Detailed(),
		report.MetricColumn("of measured BW", "bandwidth_fraction", func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }).Detailed(),
		report.MetricColumn("× floor", "vs_floor", func(x float64) string { return fmt.Sprintf("%.2f", x) }),
		report.MetricColumn("× best floor", "vs_best_floor", func(x float64) string { return fmt.Sprintf("%.2f", x) }).Detailed(),
		{Header: "wasm/native", Right: true, Value: func(c results.Case) string { return ratio(decode, c) }},
		{Header: "prog/op", Right: true, Value: func(c results.Case) string { return programRatio(decode, c) }},
		report.MetricColumn("host calls/token", "host_calls_per_token", func(x float64) string { return fmt.Sprintf("%.0f", x) }).Detailed(),
	}
	if err := report.Table(w, decode, cols, format); err != nil {
		return err
	}
	fmt.Fprintln(w)
	pcols := []report.Column{report.ColGroup, report.ColVariant, report.ColN, report.ColMedianPM,
		report.ColMedian.Detailed(), report.ColWarmup.Detailed(),
		report.MetricColumn("tok/s", "prefill_tokens_per_s", func(x float64) string { return fmt.Sprintf("%.0f", x) }),
		{Header: "wasm/native", Right: true, Value: func(c results.Case) string { return ratio(prefill, c) }},
	}
	return report.Table(w, prefill, pcols, format)
}

// split separates the decode cases from the prefill ones.
func split(f *results.File) (decode, prefill *results.File) {
	d, p := *f, *f
	d.Cases, p.Cases = nil, nil
	for _, c := range f.Cases {
		if strings.HasPrefix(c.Group, "prefill ") {
			p.Cases = append(p.Cases, c)
		} else {
			d.Cases = append(d.Cases, c)
		}
	}
	return &d, &p
}

// ratio is a wasm variant's median over native's in the same mode (or the
// first native variant of the group).
func ratio(f *results.File, c results.Case) string {
	mode, ok := strings.CutPrefix(c.Variant, "wasm-")
	if !ok {
		return ""
	}
	b, ok := f.Find(c.Group, "native-"+mode)
	if !ok {
		for _, x := range f.Cases {
			if x.Group == c.Group && strings.HasPrefix(x.Variant, "native-") {
				b, ok = x, true
				break
			}
		}
	}
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.3f", report.Summary(c).Median/report.Summary(b).Median)
}

// programRatio is a program variant's median over the same variant's op
// by op in its group ("" for an op-by-op variant, or without its pair).
func programRatio(f *results.File, c results.Case) string {
	op, ok := strings.CutSuffix(c.Variant, "-"+DispatchProgram)
	if !ok {
		return ""
	}
	b, ok := f.Find(c.Group, op)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.3f", report.Summary(c).Median/report.Summary(b).Median)
}

// Figures draws decode ms/token and prefill time against prompt length.
func Figures(dir, stem string, f *results.File) ([]string, error) {
	decode, prefill := split(f)
	var ticks []float64
	for _, c := range decode.Cases {
		if c.Variant == decode.Cases[0].Variant {
			ticks = append(ticks, c.Params["prompt"])
		}
	}
	var paths []string
	for _, fig := range []struct {
		name, what, y string
		cases         *results.File
	}{
		{"decode", "Llama decode latency per token (median, 95% CI)", "time per token (ms)", decode},
		{"prefill", "Llama prefill of the whole prompt (median, 95% CI)", "prefill time (ms)", prefill},
	} {
		path := filepath.Join(dir, stem+"-"+fig.name)
		if err := report.LinePlot(path, report.LineSpec{
			Title: report.Title(fig.what, f), XLabel: "prompt length (tokens)", YLabel: fig.y, LogX: true, XTicks: ticks,
			Series: report.MedianSeries(fig.cases, "prompt", 1e3),
		}); err != nil {
			return paths, fmt.Errorf("%s figure: %w", fig.name, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}
