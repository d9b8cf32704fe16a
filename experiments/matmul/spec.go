// Package matmul is the matmul experiment: C = A·B in float32 with A, B and C
// in a guest's linear memory, computed by the device natively and from the
// guest, in each memory mode, to price copies against zero-copy and the Wasm
// boundary against native calls. Its spec is experiments/matmul.yaml.
package matmul

import (
	"fmt"
	"os"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/spec"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/matmul.yaml.
type Spec struct {
	Experiment         string                 `yaml:"experiment"`
	Seed               uint64                 `yaml:"seed"`
	Warmup             int                    `yaml:"warmup"`
	Repetitions        int                    `yaml:"repetitions"`
	MinRepetitions     int                    `yaml:"min_repetitions"`
	BudgetSeconds      float64                `yaml:"budget_seconds"`
	CheckWork          int                    `yaml:"check_work"`
	Tolerance          float64                `yaml:"tolerance"`
	HostCallIterations int                    `yaml:"host_call_iterations"`
	RegionMiB          []int                  `yaml:"region_mib"`
	Backends           map[string]BackendSpec `yaml:"backends"`
	Quick              *Profile               `yaml:"quick"`

	src spec.Source
}

// BackendSpec is what one backend runs.
type BackendSpec struct {
	Sizes       []int    `yaml:"sizes"`
	WasmModes   []string `yaml:"wasm_modes"`
	NativeModes []string `yaml:"native_modes"`
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	Sizes         []int    `yaml:"sizes"`
	Warmup        *int     `yaml:"warmup"`
	Repetitions   *int     `yaml:"repetitions"`
	BudgetSeconds *float64 `yaml:"budget_seconds"`
}

// Plan is a spec resolved for one backend and profile.
type Plan struct {
	Seed                   uint64
	Warmup, Repetitions    int
	MinRepetitions         int
	BudgetSeconds          float64
	CheckWork              int
	Tolerance              float64
	HostCallIterations     int
	Sizes, RegionMiB       []int
	WasmModes, NativeModes []device.Mode
}

// maxSize bounds n: three n×n float32 matrices must fit a 4 GiB linear memory.
const maxSize = 16384

// Load reads and validates a matmul spec.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a matmul spec strictly (unknown fields, wrong types and
// missing fields are errors) and validates its values; every error names
// the file, the line and the field.
func Parse(path string, data []byte) (*Spec, error) {
	var s Spec
	src, err := spec.Parse(path, data, &s, "$.experiment", "$.seed", "$.warmup", "$.repetitions",
		"$.min_repetitions", "$.budget_seconds", "$.check_work", "$.tolerance",
		"$.host_call_iterations", "$.backends")
	if err != nil {
		return nil, err
	}
	s.src = src
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Spec) validate() error {
	if s.Experiment != "matmul" {
		return s.src.Errorf("$.experiment", "must be \"matmul\", not %q", s.Experiment)
	}
	for _, c := range []struct {
		path string
		v    int
		min  int
	}{
		{"$.warmup", s.Warmup, 1},
		{"$.repetitions", s.Repetitions, 1},
		{"$.min_repetitions", s.MinRepetitions, 1},
		{"$.check_work", s.CheckWork, 1},
		{"$.host_call_iterations", s.HostCallIterations, 1},
	} {
		if c.v < c.min {
			return s.src.Errorf(c.path, "must be ≥ %d, got %d", c.min, c.v)
		}
	}
	if s.MinRepetitions > s.Repetitions {
		return s.src.Errorf("$.min_repetitions", "must be ≤ repetitions (%d), got %d", s.Repetitions, s.MinRepetitions)
	}
	if !(s.BudgetSeconds > 0) {
		return s.src.Errorf("$.budget_seconds", "must be > 0, got %g", s.BudgetSeconds)
	}
	if !(s.Tolerance > 0 && s.Tolerance < 1) {
		return s.src.Errorf("$.tolerance", "must be in (0, 1), got %g", s.Tolerance)
	}
	for i, mib := range s.RegionMiB {
		if mib < 1 || mib > 3*maxSize*maxSize*4>>20 {
			return s.src.Errorf(fmt.Sprintf("$.region_mib[%d]", i), "must be in [1, %d], got %d", 3*maxSize*maxSize*4>>20, mib)
		}
	}
	if len(s.Backends) == 0 {
		return s.src.Errorf("$.backends", "must list at least one backend")
	}
	for name, b := range s.Backends {
		at := "$.backends." + name
		if !slices.Contains([]string{"cpu", "cuda", "metal"}, name) {
			return s.src.Errorf(at, "unknown backend %q (want cpu, cuda or metal)", name)
		}
		if err := s.checkSizes(at+".sizes", b.Sizes); err != nil {
			return err
		}
		if len(b.WasmModes)+len(b.NativeModes) == 0 {
			return s.src.Errorf(at, "must list wasm_modes or native_modes")
		}
		for field, modes := range map[string][]string{"wasm_modes": b.WasmModes, "native_modes": b.NativeModes} {
			for i, m := range modes {
				if _, err := device.ParseMode(m); err != nil {
					return s.src.Errorf(fmt.Sprintf("%s.%s[%d]", at, field, i), "%v", err)
				}
			}
		}
		for i, m := range b.WasmModes {
			if m == string(device.Resident) {
				return s.src.Errorf(fmt.Sprintf("%s.wasm_modes[%d]", at, i), "resident is a native-only ceiling, not a guest memory mode")
			}
		}
	}
	if q := s.Quick; q != nil {
		if q.Sizes != nil {
			if err := s.checkSizes("$.quick.sizes", q.Sizes); err != nil {
				return err
			}
		}
		if q.Warmup != nil && *q.Warmup < 1 {
			return s.src.Errorf("$.quick.warmup", "must be ≥ 1, got %d", *q.Warmup)
		}
		if q.Repetitions != nil && (*q.Repetitions < 1) {
			return s.src.Errorf("$.quick.repetitions", "must be ≥ 1, got %d", *q.Repetitions)
		}
		if q.BudgetSeconds != nil && !(*q.BudgetSeconds > 0) {
			return s.src.Errorf("$.quick.budget_seconds", "must be > 0, got %g", *q.BudgetSeconds)
		}
	}
	return nil
}

func (s *Spec) checkSizes(at string, sizes []int) error {
	if len(sizes) == 0 {
		return s.src.Errorf(at, "must list at least one size")
	}
	for i, n := range sizes {
		if n < 1 || n > maxSize {
			return s.src.Errorf(fmt.Sprintf("%s[%d]", at, i), "must be in [1, %d], got %d", maxSize, n)
		}
	}
	return nil
}

// Plan resolves the spec for backend, applying the quick profile if asked.
func (s *Spec) Plan(backend string, quick bool) (Plan, error) {
	b, ok := s.Backends[backend]
	if !ok {
		return Plan{}, fmt.Errorf("%s: no backends.%s section: this spec does not say what to run on %s", s.src.Path, backend, backend)
	}
	p := Plan{
		Seed: s.Seed, Warmup: s.Warmup, Repetitions: s.Repetitions, MinRepetitions: s.MinRepetitions,
		BudgetSeconds: s.BudgetSeconds, CheckWork: s.CheckWork, Tolerance: s.Tolerance,
		HostCallIterations: s.HostCallIterations, Sizes: b.Sizes, RegionMiB: s.RegionMiB,
	}
	for _, m := range b.WasmModes {
		p.WasmModes = append(p.WasmModes, device.Mode(m))
	}
	for _, m := range b.NativeModes {
		p.NativeModes = append(p.NativeModes, device.Mode(m))
	}
	if quick && s.Quick != nil {
		q := s.Quick
		if q.Sizes != nil {
			p.Sizes = q.Sizes
		}
		if q.Warmup != nil {
			p.Warmup = *q.Warmup
		}
		if q.Repetitions != nil {
			p.Repetitions = *q.Repetitions
		}
		if q.BudgetSeconds != nil {
			p.BudgetSeconds = *q.BudgetSeconds
		}
		p.MinRepetitions = min(p.MinRepetitions, p.Repetitions)
	}
	return p, nil
}
