package llama

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/results"
)

// meter returns its rates in turn, or err.
type meter struct {
	rates []map[string]float64
	err   error
}

func (m *meter) MemoryBandwidth() (map[string]float64, error) {
	if m.err != nil {
		return nil, m.err
	}
	r := m.rates[0]
	m.rates = m.rates[1:]
	return r, nil
}

func TestBandwidthProbes(t *testing.T) {
	env := &experiments.Env{}
	m := &meter{rates: []map[string]float64{
		{"weights": 40e9, "weights_best": 50e9},
		{"weights": 60e9, "weights_best": 70e9},
		{"weights": 50e9}, // a meter with no best pass
	}}
	var b bandwidthProbes
	for range 3 {
		if err := b.measure(env, m); err != nil {
			t.Fatal(err)
		}
	}
	f := &results.File{Provenance: results.Provenance{Extra: map[string]string{}}, Cases: []results.Case{
		results.Case{Group: "prompt=4", Samples: []float64{0.1, 0.1, 0.1}, Metrics: map[string]float64{"weight_bytes_per_token": 5e9}}.Summarize(),
		results.Case{Group: "prefill prompt=4", Samples: []float64{1}, Metrics: map[string]float64{"prefill_tokens_per_s": 4}}.Summarize(),
	}}
	note := b.apply(f, 5e9)
	d := f.Cases[0].Metrics
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Abs(b) }
	// Floor 5e9 / 50e9 = 0.1 s, the decode median; best floor 5e9 / 70e9.
	if !near(d["measured_bandwidth_Bps"], 50e9) || !near(d["vs_floor"], 1) || !near(d["vs_best_floor"], 0.1/(5e9/70e9)) ||
		!near(d["bandwidth_fraction"], 1) || !near(d["floor_s"], 0.1) {
		t.Errorf("decode metrics %v", d)
	}
	if _, ok := f.Cases[1].Metrics["vs_floor"]; ok {
		t.Errorf("prefill case got bandwidth metrics: %v", f.Cases[1].Metrics)
	}
	if f.Provenance.Extra["measured_bandwidth_probes_GBps"] != "40.0,60.0,50.0" || f.Provenance.Numbers["measured_bandwidth_best_Bps"] != 70e9 {
		t.Errorf("provenance %v %v", f.Provenance.Extra, f.Provenance.Numbers)
	}
	if !strings.Contains(note, "median of 3 probes") {
		t.Errorf("note %q", note)
	}

	var none bandwidthProbes
	if err := none.measure(env, nil); err != nil || none.apply(f, 5e9) != "" {
		t.Errorf("a device without a meter: err %v, probes %v", err, none)
	}
	if err := none.measure(env, &meter{err: errors.New("boom")}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a failing meter: %v", err)
	}
	if err := none.measure(env, &meter{rates: []map[string]float64{{"weights": math.NaN()}}}); err == nil {
		t.Error("a NaN rate was accepted")
	}
}
