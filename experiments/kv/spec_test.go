package kv

import (
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/spec/spectest"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestSpecFile: the committed spec is valid and resolves per backend and
// for the quick profile.
func TestSpecFile(t *testing.T) {
	data, err := experiments.BuiltinSpec("kv")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("kv.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	none := experiments.Overrides{}
	cpu, err := s.Plan("cpu", false, none)
	if err != nil {
		t.Fatal(err)
	}
	if len(cpu.WasmModes) != 1 || cpu.WasmModes[0] != device.ZeroCopy || cpu.KV != device.KVBF16 || len(cpu.ContextLengths) == 0 {
		t.Fatalf("cpu plan %+v", cpu)
	}
	cuda, err := s.Plan("cuda", false, none)
	if err != nil {
		t.Fatal(err)
	}
	if got := cuda.ContextLengths; len(got) != 6 || got[5] != 4096 {
		t.Fatalf("cuda context lengths %v", got)
	}
	q, err := s.Plan("cuda", true, none)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.ContextLengths) != 1 || q.ContextLengths[0] != 24 || q.Repetitions != 2 {
		t.Fatalf("quick plan: lengths %v repetitions %d", q.ContextLengths, q.Repetitions)
	}
	o, err := s.Plan("cpu", true, experiments.Overrides{Reps: 3, Set: map[string][]int{"ctx": {16, 32}}})
	if err != nil || o.Repetitions != 4 || len(o.ContextLengths) != 2 {
		t.Fatalf("overridden plan %+v, %v", o, err)
	}
	if _, err := s.Plan("cpu", true, experiments.Overrides{Set: map[string][]int{"ctx": {9999}}}); err == nil {
		t.Fatal("a context beyond max_seq accepted")
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
	spectest.Refused(t, good, func(path string, data []byte) error { _, err := Parse(path, data); return err }, []spectest.Edit{
		spectest.E("experiment", "experiment: kv", "experiment: llama", "experiment"),
		spectest.E("model", "model: tiny", "model: gpt", "model"),
		spectest.E("kv dtype", "kv_dtype: bf16", "kv_dtype: int4", "kv_dtype"),
		spectest.E("repetitions", "repetitions: 3", "repetitions: 1", "repetitions"),
		spectest.E("continuation", "continuation_tokens: 4", "continuation_tokens: 0", "continuation_tokens"),
		spectest.E("context beyond max_seq", "[24, 128]", "[24, 254]", "context_lengths[1]"),
		spectest.E("resident", "wasm_modes: [zerocopy]", "wasm_modes: [resident]", "wasm_modes[0]"),
		spectest.E("resident native", "wasm_modes: [zerocopy]", "native_modes: [resident]", "native_modes[0]", "cannot restore a snapshot in place"),
		spectest.E("unknown field", "wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    colour: red", "colour"),
		spectest.E("missing seed", "seed: 1\n", "", "seed"),
		spectest.E("backend max_batch", "wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    max_batch: 0x2000", "backends.cpu.max_batch"),
	})
	s, err := Parse("good.yaml", []byte(strings.Replace(good, "wasm_modes: [zerocopy]", "wasm_modes: [zerocopy]\n    max_batch: 64", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Plan("cpu", false, experiments.Overrides{}); err != nil || p.MaxBatch != 64 {
		t.Errorf("backends.cpu.max_batch 64: plan max_batch %d (%v)", p.MaxBatch, err)
	}
}
