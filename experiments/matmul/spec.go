// Package matmul is the matmul experiment: C = A·B in float32 with A, B and C
// in a guest's linear memory, computed by the device natively and from the
// guest, in each memory mode, to price copies against zero-copy and the Wasm
// boundary against native calls. Its spec is experiments/matmul.yaml.
package matmul

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/matmul.yaml.
type Spec struct {
	experiments.Sections[BackendSpec, Profile] `yaml:",inline"`
	Seed                                       uint64  `yaml:"seed"`
	Warmup                                     int     `yaml:"warmup"`
	Repetitions                                int     `yaml:"repetitions"`
	MinRepetitions                             int     `yaml:"min_repetitions"`
	BudgetSeconds                              float64 `yaml:"budget_seconds"`
	CheckWork                                  int     `yaml:"check_work"`
	Tolerance                                  float64 `yaml:"tolerance"`
	HostCallIterations                         int     `yaml:"host_call_iterations"`
	RegionMiB                                  []int   `yaml:"region_mib"`
}

// BackendSpec is what one backend runs.
type BackendSpec struct {
	experiments.Modes `yaml:",inline"`
	Sizes             []int `yaml:"sizes"`
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	Sizes         []int    `yaml:"sizes"`
	Warmup        *int     `yaml:"warmup"`
	Repetitions   *int     `yaml:"repetitions"`
	BudgetSeconds *float64 `yaml:"budget_seconds"`
}

// Plan is a spec resolved for one backend, profile and the command line's
// overrides.
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

// Driver is the matmul experiment as the harness runs it.
var Driver = experiments.Define(experiments.Driver{
	Name:    "matmul",
	About:   "C = A·B with A, B, C in the guest's memory: zero-copy vs copy vs native, and the Wasm boundary's cost",
	SetKeys: []string{"n"},
	Warmup:  true,
	Table:   Table, Figures: Figures,
}, Parse, Run)

// Parse decodes a matmul spec strictly (unknown fields, wrong types and
// missing fields are errors) and validates its values; every error names
// the file, the line and the field.
func Parse(path string, data []byte) (*Spec, error) {
	return experiments.ParseSpec[Spec]("matmul", path, data, "$.seed", "$.warmup", "$.repetitions",
		"$.min_repetitions", "$.budget_seconds", "$.check_work", "$.tolerance", "$.host_call_iterations")
}

// Validate checks the spec's values (experiments.Validator).
func (s *Spec) Validate() error {
	for _, c := range []struct {
		path string
		v    int
	}{
		{"$.warmup", s.Warmup},
		{"$.repetitions", s.Repetitions},
		{"$.min_repetitions", s.MinRepetitions},
		{"$.check_work", s.CheckWork},
		{"$.host_call_iterations", s.HostCallIterations},
	} {
		if c.v < 1 {
			return s.Src.Errorf(c.path, "must be ≥ 1, got %d", c.v)
		}
	}
	if s.MinRepetitions > s.Repetitions {
		return s.Src.Errorf("$.min_repetitions", "must be ≤ repetitions (%d), got %d", s.Repetitions, s.MinRepetitions)
	}
	if !(s.BudgetSeconds > 0) {
		return s.Src.Errorf("$.budget_seconds", "must be > 0, got %g", s.BudgetSeconds)
	}
	if !(s.Tolerance > 0 && s.Tolerance < 1) {
		return s.Src.Errorf("$.tolerance", "must be in (0, 1), got %g", s.Tolerance)
	}
	for i, mib := range s.RegionMiB {
		if mib < 1 || mib > 3*maxSize*maxSize*4>>20 {
			return s.Src.Errorf(fmt.Sprintf("$.region_mib[%d]", i), "must be in [1, %d], got %d", 3*maxSize*maxSize*4>>20, mib)
		}
	}
	err := experiments.CheckBackends(s.Src, s.Backends, func(b BackendSpec) experiments.Modes { return b.Modes }, nil,
		func(at string, b BackendSpec) error { return s.checkSizes(at+".sizes", b.Sizes) })
	if err != nil {
		return err
	}
	if q := s.Quick; q != nil {
		if q.Sizes != nil {
			if err := s.checkSizes("$.quick.sizes", q.Sizes); err != nil {
				return err
			}
		}
		if q.Warmup != nil && *q.Warmup < 1 {
			return s.Src.Errorf("$.quick.warmup", "must be ≥ 1, got %d", *q.Warmup)
		}
		if q.Repetitions != nil && (*q.Repetitions < 1) {
			return s.Src.Errorf("$.quick.repetitions", "must be ≥ 1, got %d", *q.Repetitions)
		}
		if q.BudgetSeconds != nil && !(*q.BudgetSeconds > 0) {
			return s.Src.Errorf("$.quick.budget_seconds", "must be > 0, got %g", *q.BudgetSeconds)
		}
	}
	return nil
}

func (s *Spec) checkSizes(at string, sizes []int) error {
	if len(sizes) == 0 {
		return s.Src.Errorf(at, "must list at least one size")
	}
	for i, n := range sizes {
		if n < 1 || n > maxSize {
			return s.Src.Errorf(fmt.Sprintf("%s[%d]", at, i), "must be in [1, %d], got %d", maxSize, n)
		}
	}
	return nil
}

// Plan resolves the spec for backend, applying the quick profile if asked
// and then the command line's overrides: -reps (timed rounds), -warmup and
// -set n=… (the sizes; the region cases are dropped when sizes are set).
func (s *Spec) Plan(backend string, quick bool, o experiments.Overrides) (Plan, error) {
	b, err := s.Backend(backend)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{
		Seed: s.Seed, Warmup: s.Warmup, Repetitions: s.Repetitions, MinRepetitions: s.MinRepetitions,
		BudgetSeconds: s.BudgetSeconds, CheckWork: s.CheckWork, Tolerance: s.Tolerance,
		HostCallIterations: s.HostCallIterations, Sizes: b.Sizes, RegionMiB: s.RegionMiB,
	}
	p.WasmModes, p.NativeModes = b.Resolve()
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
	}
	if o.Reps > 0 {
		p.Repetitions = o.Reps
	}
	if o.Warmup > 0 {
		p.Warmup = o.Warmup
	}
	if sizes, ok := o.Ints("n"); ok {
		for _, n := range sizes {
			if n > maxSize {
				return Plan{}, fmt.Errorf("-set n=%d: must be in [1, %d]", n, maxSize)
			}
		}
		p.Sizes, p.RegionMiB = sizes, nil
	}
	p.MinRepetitions = min(p.MinRepetitions, p.Repetitions)
	return p, nil
}
