package llama

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// bandwidthProbes are the device's memory-bandwidth measurements taken
// before the first prompt and after each repetition of each prompt (every
// variant's), so that the floor a decode median is held against comes from
// the same stretch of time as the decode samples. On a machine
// shared with other tenants the bandwidth moves by half within minutes; one
// measurement before the run, or the best of its passes, would make the
// floor depend on when it was taken.
type bandwidthProbes struct {
	typical []float64 // each probe's "weights" rate (its median or mean pass)
	best    float64   // the fastest pass of any probe
}

// measure takes one probe; a device without a meter takes none.
func (b *bandwidthProbes) measure(env *experiments.Env, m device.BandwidthMeter) error {
	if m == nil {
		return nil
	}
	rates, err := m.MemoryBandwidth()
	if err != nil {
		return fmt.Errorf("llama: measure bandwidth: %w", err)
	}
	bw := rates["weights"]
	if !(bw > 0) {
		return fmt.Errorf("llama: measure bandwidth: the device reported weights = %g B/s", bw)
	}
	b.typical = append(b.typical, bw)
	b.best = max(b.best, bw, rates["weights_best"])
	env.Logf("llama: weight read bandwidth measured: %.1f GB/s", bw/1e9)
	return nil
}

// median is the median of the probes' typical rates, 0 with none.
func (b *bandwidthProbes) median() float64 {
	if len(b.typical) == 0 {
		return 0
	}
	return stats.Summarize(b.typical).Median
}

// apply records the probes in f's provenance and sets each decode case's
// bandwidth metrics: the floor (weight bytes per token over the median
// probe) and the median decode time against it, and the same against the
// best pass, the optimistic floor. It returns a note saying how the floor
// was measured, or "" with no probes.
func (b *bandwidthProbes) apply(f *results.File, wb float64) string {
	bw := b.median()
	if bw == 0 {
		return ""
	}
	gbs := make([]string, len(b.typical))
	for i, r := range b.typical {
		gbs[i] = strconv.FormatFloat(r/1e9, 'f', 1, 64)
	}
	f.Provenance.SetNumber("measured_bandwidth_Bps", bw)
	f.Provenance.SetNumber("measured_bandwidth_best_Bps", b.best)
	f.Provenance.SetExtra("measured_bandwidth_probes_GBps", strings.Join(gbs, ","))
	for _, c := range f.Cases {
		m := c.Metrics
		if _, decode := m["weight_bytes_per_token"]; !decode {
			continue
		}
		t := c.Summary.Median
		m["measured_bandwidth_Bps"] = bw
		m["best_bandwidth_Bps"] = b.best
		m["bandwidth_fraction"] = wb / t / bw
		m["floor_s"] = wb / bw
		m["vs_floor"] = t / (wb / bw)
		m["vs_best_floor"] = t / (wb / b.best)
	}
	return fmt.Sprintf("bandwidth: floor = weight bytes per token / %.1f GB/s, the median of %d probes (before the first prompt and after each repetition: %s GB/s); the fastest pass of any probe read %.1f GB/s (× best floor)",
		bw/1e9, len(b.typical), strings.Join(gbs, ", "), b.best/1e9)
}
