package experiments

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/wasmgpu/wasmgpu/internal/spec"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// specFiles are the committed specs, built into the binary so that the
// harness runs from any folder (a binary copied to a GPU machine has no
// experiments/ beside it).
//
//go:embed *.yaml
var specFiles embed.FS

// SpecNames lists the built-in specs by name ("kv", "llama", "matmul", "tenants").
func SpecNames() []string {
	paths, _ := fs.Glob(specFiles, "*.yaml")
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimSuffix(p, ".yaml")
	}
	return names
}

// BuiltinSpec returns the built-in experiments/<name>.yaml; an unknown name
// is an error listing the known ones.
func BuiltinSpec(name string) ([]byte, error) {
	data, err := specFiles.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown experiment %q (known: %s)", name, strings.Join(SpecNames(), ", "))
	}
	return data, nil
}

// Backends are the backend names a spec's backends section may use.
var Backends = []string{"cpu", "cuda", "metal"}

// Modes is what every backend section of a spec lists: the memory modes
// run from the guest and natively. Experiments embed it with
// `yaml:",inline"`.
type Modes struct {
	WasmModes   []string `yaml:"wasm_modes"`
	NativeModes []string `yaml:"native_modes"`
}

// Resolve converts the mode names; CheckBackends has validated them.
func (m Modes) Resolve() (wasm, native []device.Mode) {
	for _, s := range m.WasmModes {
		wasm = append(wasm, device.Mode(s))
	}
	for _, s := range m.NativeModes {
		native = append(native, device.Mode(s))
	}
	return wasm, native
}

// LLMBackend is the backend section of an LLM experiment's spec: its
// memory modes and, optionally, its own max_batch (tokens per forward pass,
// the prefill chunk), since the best chunk depends on the device.
type LLMBackend struct {
	Modes    `yaml:",inline"`
	MaxBatch int `yaml:"max_batch"`
}

// Check validates the section's own max_batch, at the YAML path at.
func (b LLMBackend) Check(src spec.Source, at string) error {
	if b.MaxBatch != 0 && (b.MaxBatch < 1 || b.MaxBatch > 4096) {
		return src.Errorf(at+".max_batch", "must be in [1, 4096], got %d", b.MaxBatch)
	}
	return nil
}

// Apply sets the plan's max_batch to the backend's own, if it has one, and
// returns its memory modes.
func (b LLMBackend) Apply(p *LLMPlan) (wasm, native []device.Mode) {
	if b.MaxBatch > 0 {
		p.MaxBatch = b.MaxBatch
	}
	return b.Resolve()
}

// CheckBackends validates a spec's backends section: at least one, known
// names, at least one mode each, known mode names, resident never from the
// guest (it is the native ceiling), and what check adds per mode (nil for
// nothing more) and per section (extra may be nil). modes extracts a
// section's Modes.
func CheckBackends[B any](src spec.Source, backends map[string]B, modes func(B) Modes,
	check func(at string, m device.Mode) error, extra func(at string, b B) error) error {
	if len(backends) == 0 {
		return src.Errorf("$.backends", "must list at least one backend (%s)", strings.Join(Backends, ", "))
	}
	for _, name := range slices.Sorted(maps.Keys(backends)) {
		b := backends[name]
		at := "$.backends." + name
		if !slices.Contains(Backends, name) {
			return src.Errorf(at, "unknown backend %q (want %s)", name, strings.Join(Backends, ", "))
		}
		m := modes(b)
		if len(m.WasmModes)+len(m.NativeModes) == 0 {
			return src.Errorf(at, "must list wasm_modes or native_modes")
		}
		for _, list := range []struct {
			field string
			modes []string
		}{{"wasm_modes", m.WasmModes}, {"native_modes", m.NativeModes}} {
			for i, s := range list.modes {
				field := fmt.Sprintf("%s.%s[%d]", at, list.field, i)
				mode, err := device.ParseMode(s)
				if err != nil {
					return src.Errorf(field, "%v", err)
				}
				if list.field == "wasm_modes" && mode == device.Resident {
					return src.Errorf(field, "resident is a native-only ceiling, not a guest memory mode")
				}
				if check != nil {
					if err := check(field, mode); err != nil {
						return err
					}
				}
			}
		}
		if extra != nil {
			if err := extra(at, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sections are the parts of a spec every experiment has besides its
// fields: the experiment's name, a section per backend (B) and the quick
// profile (Q). Experiments embed it with `yaml:",inline"`.
type Sections[B, Q any] struct {
	Experiment string       `yaml:"experiment"`
	Backends   map[string]B `yaml:"backends"`
	Quick      *Q           `yaml:"quick"`
	// Src is the spec's file and text, kept so that a check can name the
	// line of a field it refuses (Src.Errorf). ParseSpec sets it.
	Src spec.Source `yaml:"-"`
}

// SetSource keeps the spec's source (ParseSpec calls it).
func (s *Sections[B, Q]) SetSource(src spec.Source) { s.Src = src }

// SectionsRequired are the YAML paths of Sections' required fields.
var SectionsRequired = []string{"$.experiment", "$.backends"}

// Backend returns the backends section for name, or an error saying the
// spec has none.
func (s Sections[B, Q]) Backend(name string) (B, error) {
	b, ok := s.Backends[name]
	if !ok {
		return b, fmt.Errorf("%s: no backends.%s section: this spec does not say what to run on %s (it has %s)",
			s.Src.Path, name, name, strings.Join(slices.Sorted(maps.Keys(s.Backends)), ", "))
	}
	return b, nil
}

// Validator is a decoded spec (one embedding Sections) that checks its
// values.
type Validator interface {
	SetSource(spec.Source)
	CheckExperiment(want string) error
	Validate() error
}

// ParseSpec decodes a spec of experiment strictly (spec.Parse: unknown
// fields, wrong types and missing required fields — Sections' and those
// given — are errors), checks its `experiment:` field and validates it;
// every error names the file, the line and the field.
func ParseSpec[T any, PT interface {
	*T
	Validator
}](experiment, path string, data []byte, required ...string) (*T, error) {
	var s T
	src, err := spec.Parse(path, data, &s, append(required, SectionsRequired...)...)
	if err != nil {
		return nil, err
	}
	PT(&s).SetSource(src)
	if err := PT(&s).CheckExperiment(experiment); err != nil {
		return nil, err
	}
	if err := PT(&s).Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// CheckExperiment checks the spec's `experiment:` field.
func (s Sections[B, Q]) CheckExperiment(want string) error {
	if s.Experiment != want {
		return s.Src.Errorf("$.experiment", "must be %q, not %q", want, s.Experiment)
	}
	return nil
}

// Presets are the model configurations an LLM spec may name.
var Presets = map[string]func() models.Config{"llama-3.2-1b": models.Llama32_1B, "tiny": models.Tiny}

// LLM is the part of a spec the LLM experiments (llama, kv) share: the
// model, its dtypes and the engine's sizes. Experiments embed it with
// `yaml:",inline"`.
type LLM struct {
	Model        string `yaml:"model"`
	Seed         uint64 `yaml:"seed"`
	WeightsDType string `yaml:"weights_dtype"`
	KVDType      string `yaml:"kv_dtype"`
	MaxSeq       int    `yaml:"max_seq"`
	MaxBatch     int    `yaml:"max_batch"`
	// Repetitions includes the first, the warm-up.
	Repetitions int `yaml:"repetitions"`
}

// LLMRequired are the YAML paths of LLM's fields, all required. Append to
// a copy: slices.Concat(LLMRequired, more).
var LLMRequired = []string{"$.model", "$.seed", "$.weights_dtype", "$.kv_dtype", "$.max_seq", "$.max_batch", "$.repetitions"}

// Check validates the LLM fields; max_seq must be at least minSeq.
func (l LLM) Check(src spec.Source, minSeq int) error {
	preset, ok := Presets[l.Model]
	if !ok {
		return src.Errorf("$.model", "unknown model preset %q (want %s)", l.Model, strings.Join(slices.Sorted(maps.Keys(Presets)), " or "))
	}
	if _, err := models.ParseWeightDType(l.WeightsDType); err != nil {
		return src.Errorf("$.weights_dtype", "%v", err)
	}
	if device.KVDType(l.KVDType).Size() == 0 {
		return src.Errorf("$.kv_dtype", "unknown KV dtype %q (want bf16, f16 or f32)", l.KVDType)
	}
	if limit := preset().MaxPositionEmbeddings; l.MaxSeq < minSeq || l.MaxSeq > limit {
		return src.Errorf("$.max_seq", "must be in [%d, %d], got %d", minSeq, limit, l.MaxSeq)
	}
	if l.MaxBatch < 1 || l.MaxBatch > 4096 {
		return src.Errorf("$.max_batch", "must be in [1, 4096], got %d", l.MaxBatch)
	}
	if l.Repetitions < 2 {
		return src.Errorf("$.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", l.Repetitions)
	}
	return nil
}

// LLMPlan is LLM resolved: the model's configuration and dtypes.
type LLMPlan struct {
	Model            string
	Config           models.Config
	Seed             uint64
	WeightsDType     models.DType
	KV               device.KVDType
	MaxSeq, MaxBatch int
	Repetitions      int
}

// Resolve converts the checked LLM fields.
func (l LLM) Resolve() LLMPlan {
	wd, _ := models.ParseWeightDType(l.WeightsDType)
	return LLMPlan{Model: l.Model, Config: Presets[l.Model](), Seed: l.Seed, WeightsDType: wd, KV: device.KVDType(l.KVDType),
		MaxSeq: l.MaxSeq, MaxBatch: l.MaxBatch, Repetitions: l.Repetitions}
}
