package matmul

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	p, err := s.Plan("cpu", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sizes) != 1 || p.Repetitions != 2 || p.MinRepetitions != 2 || p.Warmup != 2 {
		t.Fatalf("quick plan %+v", p)
	}
	if _, err := s.Plan("cuda", false); err == nil || !strings.Contains(err.Error(), "no backends.cuda section") {
		t.Fatalf("plan for a backend the spec lacks: %v", err)
	}
}

// TestParseBad covers each kind of bad spec: every error names the file, the
// line and the field.
func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown field", "seed: 1\n", "seed: 1\nsede: 2\n", []string{"bad.yaml:3", "sede"}},
		{"wrong type", "warmup: 2\n", "warmup: two\n", []string{"bad.yaml:3", "warmup"}},
		{"missing field", "tolerance: 1.0e-5\n", "", []string{"bad.yaml", "tolerance", "required"}},
		{"out of range repetitions", "repetitions: 6\n", "repetitions: 0\n", []string{"bad.yaml:4", "repetitions", "must be ≥ 1"}},
		{"min above repetitions", "min_repetitions: 3\n", "min_repetitions: 9\n", []string{"bad.yaml:5", "min_repetitions", "must be ≤ repetitions"}},
		{"tolerance out of range", "tolerance: 1.0e-5\n", "tolerance: 2\n", []string{"bad.yaml:8", "tolerance", "(0, 1)"}},
		{"size too large", "sizes: [8, 16]", "sizes: [8, 99999]", []string{"bad.yaml:13", "sizes[1]", "must be in [1, 16384]"}},
		{"size zero", "sizes: [8, 16]", "sizes: [0]", []string{"bad.yaml:13", "sizes[0]"}},
		{"unknown mode", "wasm_modes: [zerocopy, copy]", "wasm_modes: [zerocopy, warp]", []string{"bad.yaml:14", "wasm_modes[1]", `unknown memory mode "warp"`}},
		{"resident from wasm", "wasm_modes: [zerocopy, copy]", "wasm_modes: [resident]", []string{"bad.yaml:14", "wasm_modes[0]", "native-only"}},
		{"unknown backend", "  cpu:\n", "  tpu:\n", []string{"bad.yaml:13", "backends.tpu", `unknown backend "tpu"`}},
		{"wrong experiment", "experiment: matmul", "experiment: llama", []string{"bad.yaml:1", "experiment", `must be "matmul"`}},
		{"negative budget", "budget_seconds: 5", "budget_seconds: -1", []string{"bad.yaml:6", "budget_seconds", "must be > 0"}},
		{"bad quick", "  repetitions: 2\n", "  repetitions: 0\n", []string{"bad.yaml:18", "quick.repetitions"}},
		{"malformed yaml", "backends:\n", "backends: [\n", []string{"bad.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodSpec, tc.old) {
				t.Fatalf("test bug: %q not in the good spec", tc.old)
			}
			bad := strings.Replace(goodSpec, tc.old, tc.new, 1)
			_, err := Parse("bad.yaml", []byte(bad))
			if err == nil {
				t.Fatalf("accepted:\n%s", bad)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Parse("empty.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty.yaml") {
		t.Errorf("empty spec: %v", err)
	}
}

func TestLoadCommittedSpec(t *testing.T) {
	path := filepath.Join("..", "matmul.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skip("experiments/matmul.yaml not found")
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"cpu", "cuda", "metal"} {
		if _, err := s.Plan(b, false); err != nil {
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
			if _, err := s.Plan(b, true); err != nil {
				t.Fatalf("valid spec gave no plan for %s: %v", b, err)
			}
		}
	})
}
