package tenants

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

// SingleSuffix ends the variant of the N = 1 control run through the
// single-guest path (llmhost.NewGuest, as the llama experiment runs it):
// "wasm-zerocopy-single".
const SingleSuffix = "-single"

// byKind splits f's cases by what their samples are: inter-token gaps,
// aggregate seconds per token, admissions (prefill and restore).
func byKind(f *results.File) (gaps, aggregate, admissions *results.File) {
	g, a, ad := *f, *f, *f
	g.Cases, a.Cases, ad.Cases = nil, nil, nil
	for _, c := range f.Cases {
		switch {
		case strings.HasPrefix(c.Group, "aggregate "):
			a.Cases = append(a.Cases, c)
		case strings.HasPrefix(c.Group, "admit-"):
			ad.Cases = append(ad.Cases, c)
		default:
			g.Cases = append(g.Cases, c)
		}
	}
	return &g, &a, &ad
}

// AddSpeedups sets each gap case's MetricSpeedup: its aggregate tokens/s
// over the same variant's at N = 1 (the single-guest control's over the
// pool's N = 1).
func AddSpeedups(f *results.File) {
	base := map[string]float64{}
	for _, c := range f.Cases {
		if c.Params["tenants"] == 1 && !strings.Contains(c.Group, " ") && !strings.HasSuffix(c.Variant, SingleSuffix) {
			base[c.Variant] = c.Metrics[MetricAggregate]
		}
	}
	for i, c := range f.Cases {
		if strings.Contains(c.Group, " ") || c.Metrics == nil {
			continue
		}
		b, ok := base[strings.TrimSuffix(c.Variant, SingleSuffix)]
		if ok && b > 0 {
			f.Cases[i].Metrics[MetricSpeedup] = c.Metrics[MetricAggregate] / b
		}
	}
}

// Table writes one row per number of tenants and variant: aggregate
// tokens/s and its speedup over N = 1, tokens/s while every tenant was
// present, inter-token latency p50 and p99 (with the p99's cluster
// bootstrap 95% CI), admission by prefill and by restore, the eviction's
// snapshot, memory per tenant (host, device), fairness, the pool's mean
// batch and its batch sizes, steps run alone, and whether every tenant's
// tokens are its prompt's decoded alone ("yes", or "yes, k near ties" where
// a batched pick differed but agreed with the logits alone: checker).
// Then every case with its raw statistics. The terminal leaves the details to the Markdown file.
func Table(w io.Writer, f *results.File, format report.Format) error {
	gaps, _, _ := byKind(f)
	f2 := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	cols := []report.Column{
		{Header: "N", Right: true, Value: func(c results.Case) string { return fmt.Sprint(c.Params["tenants"]) }},
		report.ColVariant,
		report.MetricColumn("tok/s", MetricAggregate, func(x float64) string { return fmt.Sprintf("%.1f", x) }),
		report.MetricColumn("× N=1", MetricSpeedup, f2),
		report.MetricColumn("steady tok/s", MetricSteady, func(x float64) string { return fmt.Sprintf("%.1f", x) }).Detailed(),
		report.MetricColumn("ITL p50", MetricP50, report.Duration),
		report.MetricColumn("ITL p99", MetricP99, report.Duration),
		{Header: "p99 [95% CI]", Right: true, Detail: true, Value: p99Interval},
		report.MetricColumn("admit", MetricAdmit, report.Duration),
		report.MetricColumn("restore", MetricRestore, report.Duration),
		report.MetricColumn("snapshot", MetricSnapshot, report.Duration).Detailed(),
		report.MetricColumn("evicted/rep", MetricEvicted, func(x float64) string { return fmt.Sprintf("%.0f", x) }).Detailed(),
		report.MetricColumn("host/tenant", MetricHostMem, report.Bytes).Detailed(),
		report.MetricColumn("dev/tenant", MetricDevMem, report.Bytes).Detailed(),
		report.MetricColumn("fair", MetricFairness, f2),
		report.MetricColumn("batch", MetricBatchMean, func(x float64) string { return fmt.Sprintf("%.1f", x) }),
		report.LabelColumn("batch sizes (size:steps)", LabelBatchSizes).Detailed(),
		report.MetricColumn("alone/rep", MetricAlone, func(x float64) string { return fmt.Sprintf("%.0f", x) }).Detailed(),
		report.LabelColumn("alone, why", LabelAloneWhy).Detailed(),
		report.MetricColumn("timed out/rep", MetricTimedOut, func(x float64) string { return fmt.Sprintf("%.0f", x) }).Detailed(),
		report.LabelColumn("tokens = alone", LabelTokensMatch),
		{Header: "near ties", Right: true, Detail: true, Value: func(c results.Case) string {
			p, ok := c.Metrics[MetricPicks]
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.0f of %.0f picks", c.Metrics[MetricNearTies], p)
		}},
	}
	if err := report.Table(w, gaps, cols, format); err != nil {
		return err
	}
	if format != report.CSV {
		if line := memoryLine(f); line != "" {
			fmt.Fprint(w, "\n"+report.Wrap(line, 100))
		}
	}
	fmt.Fprintln(w)
	raw := []report.Column{report.ColGroup, report.ColVariant, report.ColN, report.ColMedianPM,
		report.ColMedian.Detailed(), report.ColP99, report.ColWarmup.Detailed()}
	return report.Table(w, f, raw, format)
}

// memoryLine says what every tenant shares: the weights, held once, and
// the most a tenant's guest may grow to ("" when the file does not say).
func memoryLine(f *results.File) string {
	n := f.Provenance.Numbers
	weights, ok := n["weights_bytes"]
	if !ok {
		return ""
	}
	line := fmt.Sprintf("memory: the weights, %s, are held once for every tenant", report.Bytes(weights))
	if d := n["weights_device_bytes"]; d > 0 {
		line += fmt.Sprintf(" (%s on the device)", report.Bytes(d))
	}
	if g, ok := n["guest_memory_max_bytes"]; ok {
		line += fmt.Sprintf("; a tenant's guest may grow to %s (its KV cache %s); host/tenant and dev/tenant are what each held", report.Bytes(g), report.Bytes(n["kv_bytes_per_tenant"]))
	}
	if p, ok := n["peak_rss_bytes"]; ok {
		line += fmt.Sprintf("; the run's peak RSS %s", report.Bytes(p))
	}
	return line + "."
}

// p99Interval is the p99 with its bootstrap interval, "-" without one.
func p99Interval(c results.Case) string {
	lo, hi := c.Metrics[MetricP99Lo], c.Metrics[MetricP99Hi]
	if math.IsNaN(lo) || math.IsNaN(hi) || (lo == 0 && hi == 0) {
		return "-"
	}
	return fmt.Sprintf("%s [%s, %s]", report.Duration(c.Metrics[MetricP99]), report.Duration(lo), report.Duration(hi))
}

// Figures draws aggregate tokens/s against N (with what N × the N = 1 rate
// would be) and the inter-token latency p99 and p50 against N.
func Figures(dir, stem string, f *results.File) ([]string, error) {
	gaps, _, _ := byKind(f)
	var ticks []float64
	seen := map[float64]bool{}
	for _, c := range gaps.Cases {
		if n := c.Params["tenants"]; !seen[n] {
			seen[n] = true
			ticks = append(ticks, n)
		}
	}
	var agg, lat []report.Series
	for _, v := range variants(gaps) {
		s := report.Series{Name: v}
		ideal := report.Series{Name: v + " × N (linear)"}
		p99 := report.Series{Name: v + " p99"}
		p50 := report.Series{Name: v + " p50"}
		var one float64
		for _, c := range gaps.Cases {
			if c.Variant != v {
				continue
			}
			n := c.Params["tenants"]
			s.X, s.Y = append(s.X, n), append(s.Y, c.Metrics[MetricAggregate])
			if n == 1 {
				one = c.Metrics[MetricAggregate]
			}
			p99.X, p99.Y = append(p99.X, n), append(p99.Y, 1e3*c.Metrics[MetricP99])
			p99.Lo, p99.Hi = append(p99.Lo, 1e3*orNaN(c.Metrics, MetricP99Lo)), append(p99.Hi, 1e3*orNaN(c.Metrics, MetricP99Hi))
			p50.X, p50.Y = append(p50.X, n), append(p50.Y, 1e3*c.Metrics[MetricP50])
		}
		if strings.HasSuffix(v, SingleSuffix) {
			s.Points, p99.Points, p50.Points = true, true, true
		}
		agg = append(agg, s)
		if one > 0 && !strings.HasSuffix(v, SingleSuffix) && len(s.X) > 1 {
			for _, n := range s.X {
				ideal.X, ideal.Y = append(ideal.X, n), append(ideal.Y, n*one)
			}
			agg = append(agg, ideal)
		}
		lat = append(lat, p99, p50)
	}
	var paths []string
	for _, fig := range []struct {
		name, what, y string
		series        []report.Series
	}{
		{"throughput", "Aggregate decode throughput of N tenants", "tokens/s (all tenants)", agg},
		{"latency", "Per-tenant inter-token latency (p99 with 95% CI, p50)", "inter-token latency (ms)", lat},
	} {
		path := filepath.Join(dir, stem+"-"+fig.name)
		if err := report.LinePlot(path, report.LineSpec{
			Title: report.Title(fig.what, f), XLabel: "tenants (N)", YLabel: fig.y, LogX: true, XTicks: ticks, Series: fig.series,
		}); err != nil {
			return paths, fmt.Errorf("%s figure: %w", fig.name, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// variants lists f's variants in order of first appearance.
func variants(f *results.File) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range f.Cases {
		if !seen[c.Variant] {
			seen[c.Variant] = true
			out = append(out, c.Variant)
		}
	}
	return out
}

// orNaN is m[key], NaN when missing.
func orNaN(m map[string]float64, key string) float64 {
	if v, ok := m[key]; ok {
		return v
	}
	return math.NaN()
}
