package kv

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// specPath is the repository's experiments/kv.yaml.
func specPath(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "kv.yaml")
}

// TestSpecFile: the committed spec is valid and resolves per backend and
// for the quick profile.
func TestSpecFile(t *testing.T) {
	s, err := Load(specPath(t))
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := s.Plan("cpu", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cpu.WasmModes) != 1 || cpu.WasmModes[0] != device.ZeroCopy || cpu.KV != device.KVBF16 || len(cpu.ContextLengths) == 0 {
		t.Fatalf("cpu plan %+v", cpu)
	}
	cuda, err := s.Plan("cuda", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := cuda.ContextLengths; len(got) != 6 || got[5] != 4096 {
		t.Fatalf("cuda context lengths %v", got)
	}
	q, err := s.Plan("cuda", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.ContextLengths) != 1 || q.ContextLengths[0] != 24 || q.Repetitions != 2 {
		t.Fatalf("quick plan: lengths %v repetitions %d", q.ContextLengths, q.Repetitions)
	}
}

// TestSpecErrors: bad specs are refused naming the field.
func TestSpecErrors(t *testing.T) {
	good := `experiment: kv
model: tiny
seed: 1
weights_dtype: bf16
kv_dtype: bf16
max_seq: 256
max_batch: 16
repetitions: 3
continuation_tokens: 4
context_lengths: [24, 128]
backends:
  cpu:
    wasm_modes: [zerocopy]
`
	if _, err := Parse("good.yaml", []byte(good)); err != nil {
		t.Fatalf("good spec refused: %v", err)
	}
	s, err := Parse("good.yaml", []byte(strings.Replace(good, "wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    max_batch: 64", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Plan("cpu", false); err != nil || p.MaxBatch != 64 {
		t.Errorf("backends.cpu.max_batch 64: plan max_batch %d (%v)", p.MaxBatch, err)
	}
	for _, tc := range []struct{ old, new, field string }{
		{"experiment: kv", "experiment: llama", "experiment"},
		{"model: tiny", "model: gpt", "model"},
		{"kv_dtype: bf16", "kv_dtype: int4", "kv_dtype"},
		{"repetitions: 3", "repetitions: 1", "repetitions"},
		{"continuation_tokens: 4", "continuation_tokens: 0", "continuation_tokens"},
		{"[24, 128]", "[24, 254]", "context_lengths[1]"},
		{"wasm_modes: [zerocopy]", "wasm_modes: [resident]", "wasm_modes[0]"},
		{"wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    colour: red", "colour"},
		{"seed: 1\n", "", "seed"},
		{"wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    max_batch: 0x2000", "backends.cpu.max_batch"},
	} {
		_, err := Parse("bad.yaml", []byte(strings.Replace(good, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%q → %q: %v, want an error naming %s", tc.old, tc.new, err, tc.field)
		}
	}
}
