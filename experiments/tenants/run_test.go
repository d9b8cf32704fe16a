package tenants

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

// TestRunTiny runs the experiment on the Tiny model with 1 and 3 tenants
// (one of them evicted and restored): the result has every case with its
// metrics, every tenant's tokens equal its prompt's decoded alone, and the
// pool batched.
func TestRunTiny(t *testing.T) {
	spec := strings.Replace(goodSpec, "tenants: [1, 2]", "tenants: [1, 3]", 1)
	s, d := specAndCPU(t, spec)
	f, err := Run(context.Background(), &experiments.Env{Device: d, TempDir: t.TempDir()}, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Failures) > 0 {
		t.Fatalf("correctness failures: %v", f.Failures)
	}
	byName := map[string]results.Case{}
	for _, c := range f.Cases {
		byName[c.Name()] = c
	}
	want := []string{
		"tenants=1/wasm-zerocopy-single", "aggregate tenants=1/wasm-zerocopy-single", "admit-prefill tenants=1/wasm-zerocopy-single",
		"tenants=1/wasm-zerocopy", "aggregate tenants=1/wasm-zerocopy", "admit-prefill tenants=1/wasm-zerocopy",
		"tenants=3/wasm-zerocopy", "aggregate tenants=3/wasm-zerocopy", "admit-prefill tenants=3/wasm-zerocopy", "admit-restore tenants=3/wasm-zerocopy",
	}
	for _, name := range want {
		if _, ok := byName[name]; !ok {
			t.Errorf("no case %s", name)
		}
	}
	if len(f.Cases) != len(want) {
		t.Errorf("%d cases, want %d", len(f.Cases), len(want))
	}
	three := byName["tenants=3/wasm-zerocopy"]
	// 3 tenants × 8 gaps in the one timed repetition, and the warm-up's.
	if len(three.Samples) != 3*8 || len(three.Warmup) != 3*8 || len(three.Reps) != 3*8 {
		t.Errorf("N=3: %d gaps, %d warm-up, %d reps", len(three.Samples), len(three.Warmup), len(three.Reps))
	}
	m := three.Metrics
	for _, k := range []string{MetricAggregate, MetricSpeedup, MetricP50, MetricP99, MetricAdmit, MetricRestore, MetricSnapshot, MetricHostMem, MetricFairness, MetricBatchMean} {
		if v, ok := m[k]; !ok || !(v > 0) {
			t.Errorf("N=3: metric %s = %v (present %v), want > 0", k, v, ok)
		}
	}
	// Tenant 1 of 3 is evicted (fraction 0.5: tenants 1; ⌊1.5⌋ = 1 = ⌊1⌋
	// for tenant 2).
	if m[MetricEvicted] != 1 {
		t.Errorf("N=3: %v evicted per repetition, want 1", m[MetricEvicted])
	}
	if r := byName["admit-restore tenants=3/wasm-zerocopy"]; len(r.Samples) != 1 {
		t.Errorf("N=3: %d restore admissions timed, want 1", len(r.Samples))
	}
	if three.Labels[LabelTokensMatch] != "yes" || byName["tenants=1/wasm-zerocopy-single"].Labels[LabelTokensMatch] != "yes" {
		t.Errorf("tokens match: %q (single guest %q)", three.Labels[LabelTokensMatch], byName["tenants=1/wasm-zerocopy-single"].Labels[LabelTokensMatch])
	}
	if three.Labels[LabelBatchSizes] == "" {
		t.Error("N=3: no batch sizes recorded")
	}
	if f.Provenance.Weights != "synthetic:3" || !(f.Provenance.Numbers["weights_bytes"] > 0) || f.Provenance.Extra["eviction"] == "none" {
		t.Errorf("provenance %+v", f.Provenance)
	}
}

// TestRunRefusesMemory: a plan the device's memory cannot hold is refused
// before anything is loaded.
func TestRunRefusesMemory(t *testing.T) {
	s, d := specAndCPU(t, goodSpec)
	env := &experiments.Env{Device: d, Overrides: experiments.Overrides{Set: map[string][]int{"tenants": {1, 1000}}}}
	b, ok := DeviceBudget(d)
	if !ok {
		t.Skip("this machine's memory size is unknown")
	}
	p, _ := s.Plan("cpu", false, env.Overrides)
	if p.WeightBytes()+1000*p.GuestBytes() <= b.Bytes {
		t.Skipf("1000 tenants fit this machine's %d bytes", b.Bytes)
	}
	_, err := Run(context.Background(), env, s)
	if err == nil || !strings.Contains(err.Error(), "-set tenants=1000") || !strings.Contains(err.Error(), "host's memory") {
		t.Fatalf("1000 tenants on this machine: %v", err)
	}
}

// specAndCPU parses spec and opens the cpu device, closed when t ends.
func specAndCPU(t *testing.T, spec string) (*Spec, *cpu.Device) {
	t.Helper()
	s, err := Parse("good.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	d, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return s, d
}

// TestOptionsMaxWait: max_wait_ms becomes the pool's MaxWait, and 0 turns
// batching off rather than taking the pool's default.
func TestOptionsMaxWait(t *testing.T) {
	for ms, want := range map[float64]time.Duration{2: 2 * time.Millisecond, 0.5: 500 * time.Microsecond, 0: -1} {
		r := &runner{p: Plan{MaxWaitMS: ms}}
		if got := r.options(4); got.MaxWait != want || got.MaxTenants != 4 {
			t.Errorf("max_wait_ms %g: MaxWait %v, MaxTenants %d; want %v, 4", ms, got.MaxWait, got.MaxTenants, want)
		}
	}
}
