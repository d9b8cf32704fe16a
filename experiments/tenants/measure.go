package tenants

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
)

// conversation is what one tenant did in one repetition, as timed. Times
// are offsets from the repetition's start.
type conversation struct {
	tenant, prompt int
	// arrive is when it asked to be admitted; admitted when Admit returned
	// its first token.
	arrive, admitted time.Duration
	// stamps are the times each decoded token was known, in order.
	stamps []time.Duration
	// gaps are the inter-token latencies: stamps[0]-admitted, then
	// between consecutive stamps; the gap across an eviction counts from
	// the tenant's return (restore + decode), not its absence.
	gaps []time.Duration
	// tokens are the first token (from the prefill) and the decoded ones.
	tokens []int32
	// evicted tenants left after leftAfter tokens: snapshot took
	// snapshot, they were away idle, the restore took restore.
	evicted          bool
	leftAfter        int
	snapshot, idle   time.Duration
	restore          time.Duration
	hostMem, devMem  uint64 // Tenant.Memory after admission
	restoredHostMem  uint64 // Tenant.Memory after the restore (evicted only)
	restoredDevMem   uint64
	err              error // what ended it early, nil when it ran to the end
	firstDecodeAfter int   // index in stamps of the first token after the restore
}

// wasAdmitted reports whether Admit gave c its first token (a tenant whose
// admission failed has no admission time or memory to report).
func (c *conversation) wasAdmitted() bool { return len(c.tokens) > 0 }

// admission is the admission time by prefill: instantiate + prefill.
func (c *conversation) admission() time.Duration { return c.admitted - c.arrive }

// rate is the tenant's own decoded tokens per second: its tokens over the
// time from its first token to its last, less the time it was away.
func (c *conversation) rate() float64 {
	if len(c.stamps) == 0 {
		return math.NaN()
	}
	span := c.stamps[len(c.stamps)-1] - c.admitted - c.idle
	if span <= 0 {
		return math.NaN()
	}
	return float64(len(c.stamps)) / span.Seconds()
}

// repetition is one repetition of one case: every tenant's conversation
// and the pool's batching in it.
type repetition struct {
	convs []*conversation
	// batches counts the pool's batched decode steps by size in this
	// repetition (from Pool.Stats' difference over it).
	batches map[int]uint64
	// alone counts the decode steps run in a batch of one, by why
	// (Pool.Stats: "alone" when no other tenant was decoding).
	alone map[string]uint64
	// timedOut counts the batches closed by max_wait rather than full.
	timedOut uint64
}

// decoded is the number of tokens decoded in r (not counting the first
// tokens, which come from prefills).
func (r *repetition) decoded() int {
	n := 0
	for _, c := range r.convs {
		n += len(c.stamps)
	}
	return n
}

// wall is the time from the first admission request to the last token.
func (r *repetition) wall() time.Duration {
	var first, last time.Duration = math.MaxInt64, 0
	for _, c := range r.convs {
		first = min(first, c.arrive)
		if len(c.stamps) > 0 {
			last = max(last, c.stamps[len(c.stamps)-1])
		}
	}
	if last <= first {
		return 0
	}
	return last - first
}

// aggregate is the repetition's aggregate decoded tokens per second: the
// tokens over wall.
func (r *repetition) aggregate() float64 {
	w := r.wall()
	if w <= 0 {
		return math.NaN()
	}
	return float64(r.decoded()) / w.Seconds()
}

// steady is the decoded tokens per second while every tenant was present:
// from the last tenant's first token to the first tenant's last token,
// the tokens known in that window over its length (NaN when the window
// is empty: the tenants never all overlapped).
func (r *repetition) steady() float64 {
	var from, to time.Duration = 0, math.MaxInt64
	for _, c := range r.convs {
		if len(c.stamps) == 0 {
			return math.NaN()
		}
		from = max(from, c.admitted)
		to = min(to, c.stamps[len(c.stamps)-1])
	}
	if to <= from {
		return math.NaN()
	}
	n := 0
	for _, c := range r.convs {
		for _, t := range c.stamps {
			if t > from && t <= to {
				n++
			}
		}
	}
	return float64(n) / (to - from).Seconds()
}

// fairness is the slowest tenant's tokens/s over the fastest's (1 is
// perfectly fair).
func (r *repetition) fairness() float64 {
	lo, hi := math.Inf(1), 0.0
	for _, c := range r.convs {
		x := c.rate()
		if math.IsNaN(x) {
			return math.NaN()
		}
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi == 0 {
		return math.NaN()
	}
	return lo / hi
}

// caseResult is one case (N tenants, one memory mode) measured: the
// warm-up repetition first.
type caseResult struct {
	tenants int
	variant string // "wasm-<mode>"
	reps    []*repetition
	// others is the CPU other processes used while the timed repetitions
	// ran (cpuload.Others).
	others float64
}

// seconds converts durations.
func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// Groups and metric keys of the result file. A case's group names what
// its samples are, with the number of tenants: "tenants=8" holds
// inter-token gaps, "aggregate tenants=8" seconds per decoded token of the
// whole pool (one sample per repetition, 1 / aggregate tokens/s),
// "admit-prefill tenants=8" and "admit-restore tenants=8" admission times.
const (
	groupGaps      = "tenants=%d"
	groupAggregate = "aggregate tenants=%d"
	groupPrefill   = "admit-prefill tenants=%d"
	groupRestore   = "admit-restore tenants=%d"

	MetricAggregate  = "aggregate_tokens_per_s"
	MetricSteady     = "steady_tokens_per_s"
	MetricSpeedup    = "speedup_vs_1"
	MetricP50        = "itl_p50_s"
	MetricP99        = "itl_p99_s"
	MetricP99Lo      = "itl_p99_ci_lo_s"
	MetricP99Hi      = "itl_p99_ci_hi_s"
	MetricAdmit      = "admit_prefill_median_s"
	MetricRestore    = "admit_restore_median_s"
	MetricSnapshot   = "evict_snapshot_median_s"
	MetricHostMem    = "host_bytes_per_tenant"
	MetricDevMem     = "device_bytes_per_tenant"
	MetricFairness   = "fairness"
	MetricBatchMean  = "batch_mean"
	MetricBatches    = "batches"
	MetricAlone      = "steps_alone"
	MetricEvicted    = "evicted_tenants"
	MetricTimedOut   = "batches_timed_out"
	MetricPicks      = "picks_checked"
	MetricNearTies   = "near_ties"
	LabelBatchSizes  = "batch_sizes"
	LabelAloneWhy    = "alone_why"
	LabelTokensMatch = "tokens_match"
)

// cases turns a case's repetitions into result cases: the gaps, the
// aggregate and the admissions. The first repetition is the warm-up.
func (cr *caseResult) cases() []results.Case {
	params := map[string]float64{"tenants": float64(cr.tenants)}
	timed := cr.reps[1:]
	var gaps, warmGaps, prefill, warmPrefill, restore, warmRestore, snaps []float64
	var gapReps, prefillReps, restoreReps []int
	var aggs, steadies, fair, warmAgg []float64
	var host, dev []float64
	var clusters [][]float64 // each tenant's gaps in a timed repetition: the bootstrap's unit
	batches := map[int]uint64{}
	alone := map[string]uint64{}
	var timedOut uint64
	evicted := 0
	for r, rep := range cr.reps {
		if r == 0 {
			warmAgg = append(warmAgg, 1/rep.aggregate())
			for _, c := range rep.convs {
				warmGaps = append(warmGaps, seconds(c.gaps)...)
				if c.wasAdmitted() {
					warmPrefill = append(warmPrefill, c.admission().Seconds())
				}
				if c.evicted && c.restore > 0 {
					warmRestore = append(warmRestore, c.restore.Seconds())
				}
			}
			continue
		}
		aggs = append(aggs, rep.aggregate())
		steadies = append(steadies, rep.steady())
		fair = append(fair, rep.fairness())
		for size, n := range rep.batches {
			batches[size] += n
		}
		for why, n := range rep.alone {
			alone[why] += n
		}
		timedOut += rep.timedOut
		for _, c := range rep.convs {
			g := seconds(c.gaps)
			gaps = append(gaps, g...)
			clusters = append(clusters, g)
			for range g {
				gapReps = append(gapReps, r-1)
			}
			if c.wasAdmitted() {
				prefill = append(prefill, c.admission().Seconds())
				prefillReps = append(prefillReps, r-1)
				host, dev = append(host, float64(c.hostMem)), append(dev, float64(c.devMem))
			}
			if c.evicted && c.restore > 0 {
				evicted++
				restore = append(restore, c.restore.Seconds())
				restoreReps = append(restoreReps, r-1)
				snaps = append(snaps, c.snapshot.Seconds())
			}
		}
	}
	gs := stats.Summarize(gaps)
	lo, hi := p99CI(clusters)
	m := map[string]float64{
		MetricAggregate:         stats.Median(aggs),
		MetricSteady:            stats.Median(finiteOnly(steadies)),
		MetricP50:               gs.Median,
		MetricP99:               gs.P99,
		MetricP99Lo:             lo,
		MetricP99Hi:             hi,
		MetricAdmit:             stats.Median(prefill),
		MetricHostMem:           stats.Median(host),
		MetricDevMem:            stats.Median(dev),
		MetricFairness:          stats.Median(finiteOnly(fair)),
		MetricEvicted:           float64(evicted) / float64(max(1, len(timed))),
		results.MetricOthersCPU: cr.others,
	}
	if len(restore) > 0 {
		m[MetricRestore] = stats.Median(restore)
		m[MetricSnapshot] = stats.Median(snaps)
	}
	var steps, tokens, lone uint64
	for size, n := range batches {
		steps += n
		tokens += uint64(size) * n
	}
	for _, n := range alone {
		lone += n
	}
	labels := map[string]string{}
	if steps > 0 {
		reps := float64(max(1, len(timed)))
		m[MetricBatchMean] = float64(tokens) / float64(steps)
		m[MetricBatches] = float64(steps) / reps
		m[MetricAlone] = float64(lone) / reps
		m[MetricTimedOut] = float64(timedOut) / reps
		labels[LabelBatchSizes] = histogram(batches)
		if lone > 0 {
			labels[LabelAloneWhy] = reasons(alone)
		}
	}
	perToken := make([]float64, len(aggs))
	for i, a := range aggs {
		perToken[i] = 1 / a
	}
	out := []results.Case{
		results.Case{Group: fmt.Sprintf(groupGaps, cr.tenants), Params: params, Variant: cr.variant, Warmup: warmGaps, Samples: gaps, Reps: gapReps, Metrics: m, Labels: labels}.Summarize(),
		results.Case{Group: fmt.Sprintf(groupAggregate, cr.tenants), Params: params, Variant: cr.variant, Warmup: warmAgg, Samples: perToken,
			Metrics: map[string]float64{MetricAggregate: stats.Median(aggs), results.MetricOthersCPU: cr.others}}.Summarize(),
		results.Case{Group: fmt.Sprintf(groupPrefill, cr.tenants), Params: params, Variant: cr.variant, Warmup: warmPrefill, Samples: prefill, Reps: prefillReps,
			Metrics: map[string]float64{results.MetricOthersCPU: cr.others}}.Summarize(),
	}
	if len(restore) > 0 || len(warmRestore) > 0 {
		out = append(out, results.Case{Group: fmt.Sprintf(groupRestore, cr.tenants), Params: params, Variant: cr.variant, Warmup: warmRestore,
			Samples: restore, Reps: restoreReps, Metrics: map[string]float64{MetricSnapshot: stats.Median(snaps), results.MetricOthersCPU: cr.others}}.Summarize())
	}
	return out
}

// finiteOnly drops NaN and ±Inf.
func finiteOnly(xs []float64) []float64 { return stats.Finite(xs) }

// reasons writes counts by why, "alone:12 wait:3".
func reasons(h map[string]uint64) string {
	var parts []string
	for _, why := range slices.Sorted(maps.Keys(h)) {
		parts = append(parts, why+":"+strconv.FormatUint(h[why], 10))
	}
	return strings.Join(parts, " ")
}

// histogram writes batch sizes and their counts, "1:12 2:40 4:3".
func histogram(h map[int]uint64) string {
	var parts []string
	for _, size := range slices.Sorted(maps.Keys(h)) {
		if h[size] > 0 {
			parts = append(parts, strconv.Itoa(size)+":"+strconv.FormatUint(h[size], 10))
		}
	}
	return strings.Join(parts, " ")
}
