package llama

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

const goodSpec = `experiment: llama
model: tiny
seed: 2
weights_dtype: bf16
kv_dtype: bf16
max_seq: 64
max_batch: 8
repetitions: 2
decode_tokens: 4
prompt_lengths: [5, 12]
backends:
  cpu:
    wasm_modes: [zerocopy]
    native_modes: [zerocopy]
quick:
  prompt_lengths: [5]
`

func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown field", "seed: 2\n", "seed: 2\nsed: 3\n", []string{"bad.yaml:4", "sed"}},
		{"wrong type", "max_seq: 64", "max_seq: long", []string{"bad.yaml:6", "max_seq"}},
		{"missing field", "kv_dtype: bf16\n", "", []string{"bad.yaml", "kv_dtype", "required"}},
		{"unknown model", "model: tiny", "model: gpt5", []string{"bad.yaml:2", "model", `unknown model preset "gpt5"`}},
		{"bad weights dtype", "weights_dtype: bf16", "weights_dtype: int4", []string{"bad.yaml:4", "weights_dtype"}},
		{"bad kv dtype", "kv_dtype: bf16", "kv_dtype: fp8", []string{"bad.yaml:5", "kv_dtype", `unknown KV dtype "fp8"`}},
		{"one repetition", "repetitions: 2", "repetitions: 1", []string{"bad.yaml:8", "repetitions", "warm-up"}},
		{"prompt too long", "prompt_lengths: [5, 12]", "prompt_lengths: [5, 62]", []string{"bad.yaml:10", "prompt_lengths[1]", "max_seq 64"}},
		{"max_seq beyond model", "max_seq: 64", "max_seq: 99999999", []string{"bad.yaml:6", "max_seq"}},
		{"unknown mode", "wasm_modes: [zerocopy]", "wasm_modes: [shared]", []string{"bad.yaml:13", "wasm_modes[0]", `unknown memory mode "shared"`}},
		{"unknown backend", "  cpu:\n", "  npu:\n", []string{"backends.npu", `unknown backend "npu"`}},
		{"backend max_batch", "    native_modes: [zerocopy]\n", "    native_modes: [zerocopy]\n    max_batch: 5000\n", []string{"backends.cpu.max_batch", "[1, 4096]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodSpec, tc.old) {
				t.Fatalf("test bug: %q not in the spec", tc.old)
			}
			_, err := Parse("bad.yaml", []byte(strings.Replace(goodSpec, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestBackendMaxBatch checks that a backend's max_batch replaces the top
// level's in its plan, and only in its plan.
func TestBackendMaxBatch(t *testing.T) {
	spec := strings.Replace(goodSpec, "    native_modes: [zerocopy]\n", "    native_modes: [zerocopy]\n    max_batch: 16\n  metal:\n    wasm_modes: [zerocopy]\n", 1)
	s, err := Parse("good.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	for backend, want := range map[string]int{"cpu": 16, "metal": 8} {
		p, err := s.Plan(backend, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.MaxBatch != want {
			t.Errorf("%s: max_batch %d, want %d", backend, p.MaxBatch, want)
		}
	}
}

// TestRunTiny runs the experiment on the Tiny model: every variant decodes
// the same tokens and the cases carry their metrics.
func TestRunTiny(t *testing.T) {
	s, err := Parse("good.yaml", []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cpu.Open()
	f, err := Run(context.Background(), &experiments.Env{Device: d}, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Notes {
		if strings.HasPrefix(n, "INCORRECT") {
			t.Fatal(n)
		}
	}
	if len(f.Cases) != 2*2*2 { // prompts × variants × (decode, prefill)
		t.Fatalf("%d cases, want 8", len(f.Cases))
	}
	tokens := map[string]string{}
	for _, c := range f.Cases {
		if strings.HasPrefix(c.Group, "prefill ") {
			if len(c.Samples) != 1 || len(c.Warmup) != 1 {
				t.Errorf("%s: %d prefill samples, %d warm-up", c.Name(), len(c.Samples), len(c.Warmup))
			}
			continue
		}
		if vf, vb := c.Metrics["vs_floor"], c.Metrics["vs_best_floor"]; !(vf > 0) || !(vb >= vf) {
			t.Errorf("%s: × floor %g, × best floor %g: want both > 0, the best-pass floor's ≥", c.Name(), vf, vb)
		}
		if len(c.Samples) != 4 || c.Metrics["weight_bytes_per_token"] <= 0 || !(c.Metrics["tokens_per_s"] > 0) {
			t.Errorf("%s: samples %d, metrics %v", c.Name(), len(c.Samples), c.Metrics)
		}
		if prev, ok := tokens[c.Group]; ok && prev != c.Labels["tokens"] {
			t.Errorf("%s: tokens %s differ from %s", c.Name(), c.Labels["tokens"], prev)
		}
		tokens[c.Group] = c.Labels["tokens"]
	}
	if p := f.Provenance.Extra["measured_bandwidth_probes_GBps"]; strings.Count(p, ",") != 2*2 {
		t.Errorf("bandwidth probes %q: want one before the first prompt and one after each of 2 repetitions of 2 prompts", p)
	}
	if f.Provenance.Weights != "synthetic:2" {
		t.Errorf("weights provenance %q", f.Provenance.Weights)
	}
}
