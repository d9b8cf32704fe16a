package matmul

import (
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/spec/spectest"
)

const goodSpec = `experiment: matmul
seed: 1
warmup: 2
repetitions: 6
min_repetitions: 3
budget_seconds: 5
check_work: 1000000
tolerance: 1.0e-5
host_call_iterations: 1000
region_mib: [1]
backends:
  cpu:
    sizes: [8, 16]
    wasm_modes: [zerocopy, copy]
    native_modes: [zerocopy]
quick:
  sizes: [8]
  repetitions: 2
`

func TestParseGood(t *testing.T) {
	s, err := Parse("good.yaml", []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan("cpu", true, experiments.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sizes) != 1 || p.Repetitions != 2 || p.MinRepetitions != 2 || p.Warmup != 2 {
		t.Fatalf("quick plan %+v", p)
	}
	if _, err := s.Plan("cuda", false, experiments.Overrides{}); err == nil || !strings.Contains(err.Error(), "no backends.cuda section") {
		t.Fatalf("plan for a backend the spec lacks: %v", err)
	}
	o := experiments.Overrides{Reps: 4, Warmup: 3, Set: map[string][]int{"n": {5, 7}}}
	if p, err = s.Plan("cpu", true, o); err != nil || p.Repetitions != 4 || p.Warmup != 3 || len(p.Sizes) != 2 || p.RegionMiB != nil || p.MinRepetitions != 3 {
		t.Fatalf("overridden plan %+v, %v", p, err)
	}
	if _, err = s.Plan("cpu", false, experiments.Overrides{Set: map[string][]int{"n": {99999}}}); err == nil || !strings.Contains(err.Error(), "-set n=99999") {
		t.Fatalf("a size beyond the limit: %v", err)
	}
}

// TestParseBad covers each kind of bad spec: every error names the file, the
// line and the field.
func TestParseBad(t *testing.T) {
	spectest.Refused(t, goodSpec, func(path string, data []byte) error { _, err := Parse(path, data); return err }, []spectest.Edit{
		spectest.E("unknown field", "seed: 1\n", "seed: 1\nsede: 2\n", "bad.yaml:3", "sede"),
		spectest.E("wrong type", "warmup: 2\n", "warmup: two\n", "bad.yaml:3", "warmup"),
		spectest.E("missing field", "tolerance: 1.0e-5\n", "", "bad.yaml", "tolerance", "required"),
		spectest.E("out of range repetitions", "repetitions: 6\n", "repetitions: 0\n", "bad.yaml:4", "repetitions", "must be ≥ 1"),
		spectest.E("min above repetitions", "min_repetitions: 3\n", "min_repetitions: 9\n", "bad.yaml:5", "min_repetitions", "must be ≤ repetitions"),
		spectest.E("tolerance out of range", "tolerance: 1.0e-5\n", "tolerance: 2\n", "bad.yaml:8", "tolerance", "(0, 1)"),
		spectest.E("size too large", "sizes: [8, 16]", "sizes: [8, 99999]", "bad.yaml:13", "sizes[1]", "must be in [1, 16384]"),
		spectest.E("size zero", "sizes: [8, 16]", "sizes: [0]", "bad.yaml:13", "sizes[0]"),
		spectest.E("unknown mode", "wasm_modes: [zerocopy, copy]", "wasm_modes: [zerocopy, warp]", "bad.yaml:14", "wasm_modes[1]", `unknown memory mode "warp"`),
		spectest.E("resident from wasm", "wasm_modes: [zerocopy, copy]", "wasm_modes: [resident]", "bad.yaml:14", "wasm_modes[0]", "native-only"),
		spectest.E("unknown backend", "  cpu:\n", "  tpu:\n", "bad.yaml:13", "backends.tpu", `unknown backend "tpu"`),
		spectest.E("wrong experiment", "experiment: matmul", "experiment: llama", "bad.yaml:1", "experiment", `must be "matmul"`),
		spectest.E("negative budget", "budget_seconds: 5", "budget_seconds: -1", "bad.yaml:6", "budget_seconds", "must be > 0"),
		spectest.E("bad quick", "  repetitions: 2\n", "  repetitions: 0\n", "bad.yaml:18", "quick.repetitions"),
		spectest.E("malformed yaml", "backends:\n", "backends: [\n", "bad.yaml"),
	})
	if _, err := Parse("empty.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty.yaml") {
		t.Errorf("empty spec: %v", err)
	}
}

func TestBuiltinSpec(t *testing.T) {
	data, err := experiments.BuiltinSpec("matmul")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("matmul.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range experiments.Backends {
		if _, err := s.Plan(b, false, experiments.Overrides{}); err != nil {
			t.Errorf("committed spec: %v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodSpec))
	f.Add([]byte("experiment: matmul\nbackends: {cpu: {sizes: [1]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for b := range s.Backends {
			if _, err := s.Plan(b, true, experiments.Overrides{}); err != nil {
				t.Fatalf("valid spec gave no plan for %s: %v", b, err)
			}
		}
	})
}
