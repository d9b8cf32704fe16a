package kv

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

// TestRunTiny runs the experiment end to end on the cpu with the Tiny model
// and checks the cases, the table and that the figures are drawn.
func TestRunTiny(t *testing.T) {
	spec := `experiment: kv
model: tiny
seed: 1
weights_dtype: bf16
kv_dtype: bf16
max_seq: 160
max_batch: 16
repetitions: 3
continuation_tokens: 3
context_lengths: [24, 100]
backends:
  cpu:
    wasm_modes: [zerocopy]
    native_modes: [zerocopy]
`
	s, err := Parse("tiny.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cpu.Open()
	f, err := Run(context.Background(), &experiments.Env{Device: d, CacheDir: cacheDir}, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * 2 * len(ops); len(f.Cases) != want {
		t.Fatalf("%d cases, want %d", len(f.Cases), want)
	}
	for _, c := range f.Cases {
		if len(c.Warmup) != 1 || len(c.Samples) != 2 || c.Params["ctx"] == 0 || c.Labels["continuation"] != "identical" {
			t.Fatalf("case %s: warm-up %v samples %v params %v labels %v", c.Name(), c.Warmup, c.Samples, c.Params, c.Labels)
		}
		if c.Labels["op"] == OpRestoreWarm && (c.Metrics["bytes"] <= 0 || c.Metrics["speedup"] <= 0) {
			t.Fatalf("case %s: metrics %v", c.Name(), c.Metrics)
		}
		if c.Labels["op"] == OpRestoreToken && !(c.Metrics["speedup"] > 0) {
			t.Fatalf("case %s: no speedup of the time to the next token: %v", c.Name(), c.Metrics)
		}
		if c.Labels["op"] == OpDecodeAfterRestore && !(c.Metrics["penalty"] > 0) {
			t.Fatalf("case %s: no first-token penalty: %v", c.Name(), c.Metrics)
		}
	}
	if len(f.Failures) > 0 {
		t.Fatal(f.Failures)
	}
	var buf bytes.Buffer
	if err := Table(&buf, f, report.Markdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 100 | wasm-zerocopy", "| 24 | native-zerocopy", "restore-cold wasm-zerocopy", "identical",
		"| ctx | session | re-prefill+token | restore+token | speedup [95% CI] | decode after re-prefill | 1st decode after restore | 1st/decode [95% CI] |",
		"decode-after-restore wasm-zerocopy", "disk-read wasm-zerocopy", "| cold restore | cold GB/s | disk GB/s |"} {
		if !strings.Contains(strings.Join(strings.Fields(buf.String()), " "), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	dir := t.TempDir()
	figs, err := Figures(dir, "kv", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 3 {
		t.Errorf("figures %v, want times, speedup and next-token", figs)
	}
	for _, p := range figs {
		if fi, err := os.Stat(p + ".png"); err != nil || fi.Size() == 0 {
			t.Errorf("figure %s: %v", p, err)
		}
	}
}

func TestSpeedupCI(t *testing.T) {
	slow := []float64{10, 11, 9, 10.5, 9.5, 10, 10.2}
	fast := []float64{1, 1.1, 0.9, 1.05, 0.95, 1, 1.02}
	s := SpeedupCI(slow, fast)
	if math.Abs(s.Ratio-10) > 1e-9 || !(s.Lo < 10 && s.Hi > 10 && s.Lo > 8 && s.Hi < 12) || s.P >= 0.05 {
		t.Fatalf("speedup %+v, want 10 inside a tight CI and p < 0.05", s)
	}
	if again := SpeedupCI(slow, fast); again != s {
		t.Fatalf("bootstrap not reproducible: %+v then %+v", s, again)
	}
	few := SpeedupCI(slow[:3], fast[:3])
	if math.Abs(few.Ratio-10) > 1e-9 || !math.IsNaN(few.Lo) || !math.IsNaN(few.Hi) {
		t.Fatalf("3 samples: %+v, want a ratio and no interval", few)
	}
	if none := SpeedupCI(nil, fast); !math.IsNaN(none.Ratio) {
		t.Fatalf("no samples: %+v", none)
	}
}

func TestCrossover(t *testing.T) {
	for _, tc := range []struct {
		y          []float64
		x          float64
		slower, ok bool
	}{
		{[]float64{4, 2, 0.5}, 322.5, true, true}, // falls through 1 two thirds of the way from 128 to 512 in log x
		{[]float64{0.5, 2, 4}, 41.9, false, true}, // rises through 1 a third of the way from 24 to 128
		{[]float64{2, 3, 4}, 0, false, false},     // never
		{[]float64{0.5, 0.6, 0.7}, 0, false, false},
	} {
		x, slower, ok := crossover(report.Series{X: []float64{24, 128, 512}, Y: tc.y})
		if ok != tc.ok || slower != tc.slower || (ok && math.Abs(x-tc.x)/tc.x > 1e-3) {
			t.Errorf("%v: crossover %.1f slower %v ok %v, want ≈%.1f %v %v", tc.y, x, slower, ok, tc.x, tc.slower, tc.ok)
		}
	}
}
