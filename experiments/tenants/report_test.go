package tenants

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
)

const ms = time.Millisecond

// conv makes a conversation admitted at admitted whose tokens come every
// step from then on.
func conv(tenant int, arrive, admitted, step time.Duration, tokens int) *conversation {
	c := &conversation{tenant: tenant, arrive: arrive, admitted: admitted, tokens: []int32{1}}
	prev := admitted
	for range tokens {
		now := prev + step
		c.stamps, c.gaps, c.tokens = append(c.stamps, now), append(c.gaps, step), append(c.tokens, 1)
		prev = now
	}
	return c
}

// TestRepetitionMetrics checks aggregate, steady-state and fairness on
// hand-made timelines.
func TestRepetitionMetrics(t *testing.T) {
	// Tenant 0 arrives at 0, admitted at 100ms, 10 tokens 10ms apart (last
	// at 200ms); tenant 1 arrives at 50ms, admitted at 150ms, 10 tokens
	// 20ms apart (last at 350ms).
	r := &repetition{convs: []*conversation{conv(0, 0, 100*ms, 10*ms, 10), conv(1, 50*ms, 150*ms, 20*ms, 10)}}
	if got := r.decoded(); got != 20 {
		t.Errorf("decoded %d, want 20", got)
	}
	if got := r.wall(); got != 350*ms {
		t.Errorf("wall %v, want 350ms", got)
	}
	if got, want := r.aggregate(), 20/0.35; math.Abs(got-want) > 1e-9 {
		t.Errorf("aggregate %g, want %g", got, want)
	}
	// Both present from 150ms to 200ms: tenant 0's tokens at 160…200 (5)
	// and tenant 1's at 170, 190 (2): 7 tokens in 50ms.
	if got, want := r.steady(), 7/0.05; math.Abs(got-want) > 1e-9 {
		t.Errorf("steady %g, want %g", got, want)
	}
	// Tenant 0: 10 tokens in 100ms; tenant 1: 10 in 200ms.
	if got := r.fairness(); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("fairness %g, want 0.5", got)
	}
	// An evicted tenant's absence does not count against its rate.
	c := conv(0, 0, 100*ms, 10*ms, 10)
	c.idle = 1000 * ms
	for i := range c.stamps {
		if i >= 5 {
			c.stamps[i] += 1000 * ms
		}
	}
	if got := c.rate(); math.Abs(got-100) > 1e-9 {
		t.Errorf("evicted tenant's rate %g, want 100 tokens/s", got)
	}
	if got := (&repetition{convs: []*conversation{conv(0, 0, 100*ms, 10*ms, 3), conv(1, 0, 500*ms, 10*ms, 3)}}).steady(); !math.IsNaN(got) {
		t.Errorf("steady of tenants that never overlap %g, want NaN", got)
	}
}

// sampleFile is a result of two cases (N = 1, 2) and the single-guest
// control, made from hand-made repetitions.
func sampleFile() *results.File {
	f := &results.File{Experiment: "tenants", Provenance: results.Provenance{Device: results.DeviceInfo{Backend: "cpu", Name: "test"},
		Numbers: map[string]float64{"weights_bytes": 3 << 30, "guest_memory_max_bytes": 100 << 20, "kv_bytes_per_tenant": 8 << 20}}}
	mk := func(n int, variant string, step time.Duration, batches map[int]uint64) *caseResult {
		cr := &caseResult{tenants: n, variant: variant}
		for range 3 {
			rp := &repetition{batches: batches}
			if batches != nil {
				rp.alone, rp.timedOut = map[string]uint64{"alone": 2, "wait": 1}, 1
			}
			for i := range n {
				c := conv(i, time.Duration(i)*ms, 100*ms, step, 8)
				c.hostMem, c.devMem = 1<<20, 2<<20
				if n == 2 && i == 1 {
					c.evicted, c.restore, c.snapshot, c.leftAfter = true, 3*ms, 2*ms, 4
				}
				rp.convs = append(rp.convs, c)
			}
			cr.reps = append(cr.reps, rp)
		}
		return cr
	}
	for _, cr := range []*caseResult{mk(1, "wasm-zerocopy-single", 10*ms, nil), mk(1, "wasm-zerocopy", 10*ms, map[int]uint64{1: 8}), mk(2, "wasm-zerocopy", 12*ms, map[int]uint64{2: 6, 1: 4})} {
		cs := cr.cases()
		cs[0].Labels[LabelTokensMatch] = "yes"
		f.Cases = append(f.Cases, cs...)
	}
	AddSpeedups(f)
	return f
}

// TestCases checks the cases a case's repetitions become.
func TestCases(t *testing.T) {
	f := sampleFile()
	gaps, agg, adm := byKind(f)
	if len(gaps.Cases) != 3 || len(agg.Cases) != 3 || len(adm.Cases) != 4 {
		t.Fatalf("%d gap, %d aggregate, %d admission cases; want 3, 3, 4 (prefill ×3, restore at N=2)", len(gaps.Cases), len(agg.Cases), len(adm.Cases))
	}
	two := gaps.Cases[2]
	if two.Group != "tenants=2" || len(two.Samples) != 2*2*8 || len(two.Warmup) != 2*8 || len(two.Reps) != len(two.Samples) || two.Reps[len(two.Reps)-1] != 1 {
		t.Fatalf("N=2 gaps: group %s, %d samples, %d warm-up, reps %v", two.Group, len(two.Samples), len(two.Warmup), two.Reps)
	}
	m := two.Metrics
	// Two tenants, 8 tokens 12ms apart after admission at 100ms, the
	// second arriving at 1ms: 16 tokens over 196ms.
	if want := 16 / 0.196; math.Abs(m[MetricAggregate]-want) > 1e-6 {
		t.Errorf("aggregate %g, want %g", m[MetricAggregate], want)
	}
	if want := (16 / 0.196) / (8 / 0.180); math.Abs(m[MetricSpeedup]-want) > 1e-6 {
		t.Errorf("speedup %g, want %g", m[MetricSpeedup], want)
	}
	if m[MetricBatchMean] != (2*6+4)/10.0 || m[MetricBatches] != 10 || two.Labels[LabelBatchSizes] != "1:8 2:12" {
		t.Errorf("batches: mean %g, per rep %g, sizes %q", m[MetricBatchMean], m[MetricBatches], two.Labels[LabelBatchSizes])
	}
	if m[MetricAlone] != 3 || m[MetricTimedOut] != 1 || two.Labels[LabelAloneWhy] != "alone:4 wait:2" {
		t.Errorf("alone %g per rep (%q), timed out %g per rep", m[MetricAlone], two.Labels[LabelAloneWhy], m[MetricTimedOut])
	}
	if m[MetricRestore] != 0.003 || m[MetricSnapshot] != 0.002 || m[MetricEvicted] != 1 || m[MetricHostMem] != 1<<20 || m[MetricDevMem] != 2<<20 {
		t.Errorf("restore %g, snapshot %g, evicted %g, memory %g/%g", m[MetricRestore], m[MetricSnapshot], m[MetricEvicted], m[MetricHostMem], m[MetricDevMem])
	}
	if m[MetricP50] != 0.012 || m[MetricP99] != 0.012 || m[MetricFairness] != 1 {
		t.Errorf("p50 %g, p99 %g, fairness %g", m[MetricP50], m[MetricP99], m[MetricFairness])
	}
	// 4 clusters (2 tenants × 2 timed repetitions): too few for a CI.
	if !math.IsNaN(m[MetricP99Lo]) {
		t.Errorf("p99 CI from 4 clusters: [%g, %g]", m[MetricP99Lo], m[MetricP99Hi])
	}
	if a := agg.Cases[2]; len(a.Samples) != 2 || math.Abs(a.Samples[0]-0.196/16) > 1e-9 {
		t.Errorf("aggregate case samples %v, want 2 of %g s/token", a.Samples, 0.196/16)
	}
	if _, ok := gaps.Cases[0].Metrics[MetricBatchMean]; ok {
		t.Error("the single-guest control has batch metrics")
	}
}

// TestP99CI: the cluster bootstrap brackets the p99 and is reproducible.
func TestP99CI(t *testing.T) {
	var clusters [][]float64
	for i := range 10 {
		c := make([]float64, 50)
		for j := range c {
			c[j] = 0.010 + 0.001*float64((i*7+j*3)%10)
		}
		clusters = append(clusters, c)
	}
	lo, hi := p99CI(clusters)
	lo2, hi2 := p99CI(clusters)
	if !(lo <= 0.019+1e-12 && hi >= 0.019-1e-12 && lo > 0.017 && hi < 0.02) || lo != lo2 || hi != hi2 {
		t.Errorf("p99 CI [%g, %g] (again [%g, %g]): want a reproducible interval around 0.019", lo, hi, lo2, hi2)
	}
}

// TestTableAndFigures renders the tables in every format and draws the
// figures.
func TestTableAndFigures(t *testing.T) {
	f := sampleFile()
	for _, format := range []report.Format{report.Terminal, report.Markdown, report.CSV} {
		var b strings.Builder
		if err := Table(&b, f, format); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"wasm-zerocopy-single", "tok/s", "ITL p99", "admit-restore tenants=2", "3.00GiB, are held once"} {
			if format == report.CSV && want == "3.00GiB, are held once" {
				continue
			}
			if !strings.Contains(out, want) {
				t.Errorf("format %d: table lacks %q:\n%s", format, want, out)
			}
		}
		if format == report.Markdown && !strings.Contains(out, "batch sizes") {
			t.Errorf("the Markdown table lacks the detail columns:\n%s", out)
		}
	}
	dir := t.TempDir()
	paths, err := Figures(dir, "tenants-test", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("figures %v, want throughput and latency", paths)
	}
	for _, p := range paths {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(p + ext); err != nil || st.Size() == 0 {
				t.Errorf("%s%s: %v", filepath.Base(p), ext, err)
			}
		}
	}
}

// TestCasesFailedAdmission: a tenant whose admission failed has no
// admission time or memory among the samples.
func TestCasesFailedAdmission(t *testing.T) {
	cr := &caseResult{tenants: 2, variant: "wasm-zerocopy"}
	for range 2 {
		ok := conv(0, 0, 100*ms, 10*ms, 4)
		ok.hostMem = 1 << 20
		failed := &conversation{tenant: 1, arrive: 5 * ms}
		cr.reps = append(cr.reps, &repetition{convs: []*conversation{ok, failed}})
	}
	cs := cr.cases()
	if p := cs[2]; p.Group != "admit-prefill tenants=2" || len(p.Samples) != 1 || p.Samples[0] != 0.1 || len(p.Warmup) != 1 {
		t.Errorf("admissions %s: %v (warm-up %v), want only the admitted tenant's 0.1s", p.Group, p.Samples, p.Warmup)
	}
	if m := cs[0].Metrics[MetricHostMem]; m != 1<<20 {
		t.Errorf("host memory per tenant %g, want the admitted tenant's 1 MiB", m)
	}
}
