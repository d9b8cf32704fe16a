package llama

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/spec/spectest"
	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
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
dispatch: [op, program]
backends:
  cpu:
    wasm_modes: [zerocopy]
    native_modes: [zerocopy]
quick:
  prompt_lengths: [5]
`

func TestParseBad(t *testing.T) {
	spectest.Refused(t, goodSpec, func(path string, data []byte) error { _, err := Parse(path, data); return err }, []spectest.Edit{
		spectest.E("unknown field", "seed: 2\n", "seed: 2\nsed: 3\n", "bad.yaml:4", "sed"),
		spectest.E("wrong type", "max_seq: 64", "max_seq: long", "bad.yaml:6", "max_seq"),
		spectest.E("missing field", "kv_dtype: bf16\n", "", "bad.yaml", "kv_dtype", "required"),
		spectest.E("unknown model", "model: tiny", "model: gpt5", "bad.yaml:2", "model", `unknown model preset "gpt5"`),
		spectest.E("bad weights dtype", "weights_dtype: bf16", "weights_dtype: int4", "bad.yaml:4", "weights_dtype"),
		spectest.E("bad kv dtype", "kv_dtype: bf16", "kv_dtype: fp8", "bad.yaml:5", "kv_dtype", `unknown KV dtype "fp8"`),
		spectest.E("one repetition", "repetitions: 2", "repetitions: 1", "bad.yaml:8", "repetitions", "warm-up"),
		spectest.E("prompt too long", "prompt_lengths: [5, 12]", "prompt_lengths: [5, 62]", "bad.yaml:10", "prompt_lengths[1]", "max_seq 64"),
		spectest.E("max_seq beyond model", "max_seq: 64", "max_seq: 99999999", "bad.yaml:6", "max_seq"),
		spectest.E("unknown mode", "wasm_modes: [zerocopy]", "wasm_modes: [shared]", "bad.yaml:14", "wasm_modes[0]", `unknown memory mode "shared"`),
		spectest.E("unknown backend", "  cpu:\n", "  npu:\n", "backends.npu", `unknown backend "npu"`),
		spectest.E("backend max_batch", "    native_modes: [zerocopy]\n", "    native_modes: [zerocopy]\n    max_batch: 5000\n", "backends.cpu.max_batch", "[1, 4096]"),
		spectest.E("unknown dispatch", "dispatch: [op, program]", "dispatch: [op, graph]", "bad.yaml:11", "dispatch[1]", `unknown dispatch "graph"`),
		spectest.E("dispatch twice", "dispatch: [op, program]", "dispatch: [op, op]", "bad.yaml:11", "dispatch[1]", "op is listed twice"),
		spectest.E("backend's unknown dispatch", "    native_modes: [zerocopy]\n", "    native_modes: [zerocopy]\n    dispatch: [ops]\n", "bad.yaml:16", "backends.cpu.dispatch[0]", `unknown dispatch "ops"`),
	})
}

func TestPlanOverrides(t *testing.T) {
	s, err := Parse("good.yaml", []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan("cpu", false, experiments.Overrides{Reps: 5, Set: map[string][]int{"prompt": {7}, "decode": {3}}})
	if err != nil || p.Repetitions != 6 || len(p.PromptLengths) != 1 || p.PromptLengths[0] != 7 || p.DecodeTokens != 3 {
		t.Fatalf("plan %+v, %v: want 5 timed repetitions + the warm-up, prompt 7, 3 tokens", p, err)
	}
	if _, err := s.Plan("cpu", false, experiments.Overrides{Set: map[string][]int{"prompt": {63}}}); err == nil || !strings.Contains(err.Error(), "max_seq 64") {
		t.Fatalf("a prompt beyond max_seq: %v", err)
	}
	data, err := experiments.BuiltinSpec("llama")
	if err != nil {
		t.Fatal(err)
	}
	if s, err = Parse("llama.yaml", data); err != nil {
		t.Fatal(err)
	}
	for _, b := range experiments.Backends {
		if _, err := s.Plan(b, true, experiments.Overrides{}); err != nil {
			t.Errorf("the built-in spec on %s: %v", b, err)
		}
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
		p, err := s.Plan(backend, false, experiments.Overrides{})
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
	if len(f.Failures) > 0 {
		t.Fatal(f.Failures)
	}
	if len(f.Cases) != 2*4*2 { // prompts × variants × (decode, prefill)
		t.Fatalf("%d cases, want 16", len(f.Cases))
	}
	var names []string
	var first []results.Case // the first prompt's decode cases
	for _, c := range f.Cases {
		if c.Group == "prompt=5" {
			names, first = append(names, c.Variant), append(first, c)
		}
	}
	if want := []string{"native-zerocopy", "native-zerocopy-program", "wasm-zerocopy", "wasm-zerocopy-program"}; !slices.Equal(names, want) {
		t.Fatalf("variants %v, want %v", names, want)
	}
	// One host call a token from a guest with a program, one a kernel op by op.
	for _, c := range first {
		calls, ok := c.Metrics["host_calls_per_token"]
		switch c.Variant {
		case "wasm-zerocopy":
			if want := float64(1 + 6*2 + 1 + 2); calls != want {
				t.Errorf("%s: %v host calls per token, want %v", c.Variant, calls, want)
			}
		case "wasm-zerocopy-program":
			if calls != 1 {
				t.Errorf("%s: %v host calls per token, want 1", c.Variant, calls)
			}
		default:
			if ok {
				t.Errorf("%s: host calls per token %v in a native variant", c.Variant, calls)
			}
		}
	}
	var table strings.Builder
	if err := Table(&table, f, report.Markdown); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "prog/op") || !strings.Contains(table.String(), "wasm-zerocopy-program") {
		t.Errorf("the table does not show the program variants:\n%s", table.String())
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
		if len(c.Reps) != 4 || c.Reps[3] != 0 || len(c.RepMedians()) != 1 {
			t.Errorf("%s: reps %v: the 4 tokens of the one timed repetition belong together", c.Name(), c.Reps)
		}
		if prev, ok := tokens[c.Group]; ok && prev != c.Labels["tokens"] {
			t.Errorf("%s: tokens %s differ from %s", c.Name(), c.Labels["tokens"], prev)
		}
		tokens[c.Group] = c.Labels["tokens"]
	}
	if f.Provenance.Numbers["weight_bytes_per_token"] <= 0 || f.Provenance.Numbers["measured_bandwidth_Bps"] <= 0 {
		t.Errorf("provenance numbers %v", f.Provenance.Numbers)
	}
	if p := f.Provenance.Extra["measured_bandwidth_probes_GBps"]; strings.Count(p, ",") != 2*2 {
		t.Errorf("bandwidth probes %q: want one before the first prompt and one after each of 2 repetitions of 2 prompts", p)
	}
	if f.Provenance.Weights != "synthetic:2" {
		t.Errorf("weights provenance %q", f.Provenance.Weights)
	}
}
