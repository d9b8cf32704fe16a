// Package llama is the token-latency experiment: Llama 3.2 1B prefill and
// decode driven from inside the Wasm guest against the same engine driven
// natively, per memory mode, with the achieved weight bandwidth against what
// the machine can stream. The floor of a decode step is its weight bytes over
// the median of bandwidth probes taken before and between the repetitions (see
// bandwidthProbes); "× floor" is the median decode time over it, and "× best
// floor" the same against the fastest probe pass. Its spec is
// experiments/llama.yaml.
package llama

import (
	"fmt"
	"os"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/spec"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/llama.yaml.
type Spec struct {
	Experiment    string                 `yaml:"experiment"`
	Model         string                 `yaml:"model"`
	Seed          uint64                 `yaml:"seed"`
	WeightsDType  string                 `yaml:"weights_dtype"`
	KVDType       string                 `yaml:"kv_dtype"`
	MaxSeq        int                    `yaml:"max_seq"`
	MaxBatch      int                    `yaml:"max_batch"`
	Repetitions   int                    `yaml:"repetitions"`
	DecodeTokens  int                    `yaml:"decode_tokens"`
	PromptLengths []int                  `yaml:"prompt_lengths"`
	Backends      map[string]BackendSpec `yaml:"backends"`
	Quick         *Profile               `yaml:"quick"`

	src spec.Source
}

// BackendSpec is what one backend runs; empty fields take the top level's.
type BackendSpec struct {
	WasmModes     []string `yaml:"wasm_modes"`
	NativeModes   []string `yaml:"native_modes"`
	PromptLengths []int    `yaml:"prompt_lengths"`
	DecodeTokens  int      `yaml:"decode_tokens"`
	// MaxBatch replaces max_batch (tokens per forward pass, the prefill
	// chunk) on this backend: the best chunk depends on the device.
	MaxBatch int `yaml:"max_batch"`
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	PromptLengths []int `yaml:"prompt_lengths"`
	DecodeTokens  int   `yaml:"decode_tokens"`
	Repetitions   int   `yaml:"repetitions"`
}

// Plan is a spec resolved for one backend and profile.
type Plan struct {
	Config                 models.Config
	Seed                   uint64
	WeightsDType           models.DType
	KV                     device.KVDType
	MaxSeq, MaxBatch       int
	Repetitions            int
	DecodeTokens           int
	PromptLengths          []int
	WasmModes, NativeModes []device.Mode
}

// Load reads and validates a llama spec.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a llama spec strictly and validates it; errors name the
// file, line and field.
func Parse(path string, data []byte) (*Spec, error) {
	var s Spec
	src, err := spec.Parse(path, data, &s, "$.experiment", "$.model", "$.seed", "$.weights_dtype", "$.kv_dtype",
		"$.max_seq", "$.max_batch", "$.repetitions", "$.decode_tokens", "$.prompt_lengths", "$.backends")
	if err != nil {
		return nil, err
	}
	s.src = src
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Presets are the model configurations a spec may name.
var Presets = map[string]func() models.Config{"llama-3.2-1b": models.Llama32_1B, "tiny": models.Tiny}

func parseKV(s string) (device.KVDType, bool) {
	k := device.KVDType(s)
	return k, k.Size() > 0
}

func (s *Spec) validate() error {
	if s.Experiment != "llama" {
		return s.src.Errorf("$.experiment", "must be \"llama\", not %q", s.Experiment)
	}
	preset, ok := Presets[s.Model]
	if !ok {
		return s.src.Errorf("$.model", "unknown model preset %q (want llama-3.2-1b or tiny)", s.Model)
	}
	if _, err := models.ParseWeightDType(s.WeightsDType); err != nil {
		return s.src.Errorf("$.weights_dtype", "%v", err)
	}
	if _, ok := parseKV(s.KVDType); !ok {
		return s.src.Errorf("$.kv_dtype", "unknown KV dtype %q (want bf16, f16 or f32)", s.KVDType)
	}
	limit := preset().MaxPositionEmbeddings
	if s.MaxSeq < 1 || s.MaxSeq > limit {
		return s.src.Errorf("$.max_seq", "must be in [1, %d], got %d", limit, s.MaxSeq)
	}
	if s.MaxBatch < 1 || s.MaxBatch > 4096 {
		return s.src.Errorf("$.max_batch", "must be in [1, 4096], got %d", s.MaxBatch)
	}
	if s.Repetitions < 2 {
		return s.src.Errorf("$.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", s.Repetitions)
	}
	if err := s.checkLengths("$", s.PromptLengths, s.DecodeTokens); err != nil {
		return err
	}
	if len(s.Backends) == 0 {
		return s.src.Errorf("$.backends", "must list at least one backend")
	}
	for name, b := range s.Backends {
		at := "$.backends." + name
		if !slices.Contains([]string{"cpu", "cuda", "metal"}, name) {
			return s.src.Errorf(at, "unknown backend %q (want cpu, cuda or metal)", name)
		}
		if b.MaxBatch != 0 && (b.MaxBatch < 1 || b.MaxBatch > 4096) {
			return s.src.Errorf(at+".max_batch", "must be in [1, 4096], got %d", b.MaxBatch)
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
		if err := s.checkLengths(at, b.PromptLengths, b.DecodeTokens); err != nil {
			return err
		}
	}
	if q := s.Quick; q != nil {
		if q.Repetitions != 0 && q.Repetitions < 2 {
			return s.src.Errorf("$.quick.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", q.Repetitions)
		}
		if err := s.checkLengths("$.quick", q.PromptLengths, q.DecodeTokens); err != nil {
			return err
		}
	}
	return nil
}

// checkLengths checks optional prompt lengths and decode counts under at:
// every conversation must fit max_seq.
func (s *Spec) checkLengths(at string, lengths []int, decode int) error {
	if decode < 0 || decode > s.MaxSeq {
		return s.src.Errorf(at+".decode_tokens", "must be in [1, max_seq %d], got %d", s.MaxSeq, decode)
	}
	for i, n := range lengths {
		if n < 1 || n+max(decode, s.DecodeTokens) > s.MaxSeq {
			return s.src.Errorf(fmt.Sprintf("%s.prompt_lengths[%d]", at, i),
				"must be ≥ 1 and leave room for the decoded tokens within max_seq %d, got %d", s.MaxSeq, n)
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
	wd, _ := models.ParseWeightDType(s.WeightsDType)
	kv, _ := parseKV(s.KVDType)
	p := Plan{
		Config: Presets[s.Model](), Seed: s.Seed, WeightsDType: wd, KV: kv,
		MaxSeq: s.MaxSeq, MaxBatch: s.MaxBatch, Repetitions: s.Repetitions,
		DecodeTokens: s.DecodeTokens, PromptLengths: s.PromptLengths,
	}
	if len(b.PromptLengths) > 0 {
		p.PromptLengths = b.PromptLengths
	}
	if b.DecodeTokens > 0 {
		p.DecodeTokens = b.DecodeTokens
	}
	if b.MaxBatch > 0 {
		p.MaxBatch = b.MaxBatch
	}
	for _, m := range b.WasmModes {
		p.WasmModes = append(p.WasmModes, device.Mode(m))
	}
	for _, m := range b.NativeModes {
		p.NativeModes = append(p.NativeModes, device.Mode(m))
	}
	if q := s.Quick; quick && q != nil {
		if len(q.PromptLengths) > 0 {
			p.PromptLengths = q.PromptLengths
		}
		if q.DecodeTokens > 0 {
			p.DecodeTokens = q.DecodeTokens
		}
		if q.Repetitions > 0 {
			p.Repetitions = q.Repetitions
		}
	}
	return p, nil
}
