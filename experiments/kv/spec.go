// Package kv is the KV-snapshot experiment: is restoring a conversation's KV
// cache from a snapshot faster than recomputing it? For each context length
// it times, inside the Wasm guest, the recompute path (re-prefill) against a
// snapshot of the guest's state region saved to a file and restored into a
// fresh guest (page cache warm and cold), a migration over loopback TCP, and
// the first token after each path; every restore is checked to continue the
// conversation token for token. Its spec is experiments/kv.yaml.
package kv

import (
	"fmt"
	"os"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/spec"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/kv.yaml.
type Spec struct {
	Experiment   string `yaml:"experiment"`
	Model        string `yaml:"model"`
	Seed         uint64 `yaml:"seed"`
	WeightsDType string `yaml:"weights_dtype"`
	KVDType      string `yaml:"kv_dtype"`
	MaxSeq       int    `yaml:"max_seq"`
	MaxBatch     int    `yaml:"max_batch"`
	Repetitions  int    `yaml:"repetitions"`
	// ContinuationTokens is how many greedy tokens after each restore are
	// compared with the uninterrupted conversation.
	ContinuationTokens int                    `yaml:"continuation_tokens"`
	ContextLengths     []int                  `yaml:"context_lengths"`
	SnapshotDir        string                 `yaml:"snapshot_dir"`
	Backends           map[string]BackendSpec `yaml:"backends"`
	Quick              *Profile               `yaml:"quick"`

	src spec.Source
}

// BackendSpec is what one backend runs; empty fields take the top level's.
type BackendSpec struct {
	WasmModes      []string `yaml:"wasm_modes"`
	NativeModes    []string `yaml:"native_modes"`
	ContextLengths []int    `yaml:"context_lengths"`
	// MaxBatch replaces max_batch (tokens per forward pass, the prefill
	// chunk) on this backend: the best chunk depends on the device.
	MaxBatch int `yaml:"max_batch"`
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	ContextLengths []int `yaml:"context_lengths"`
	Repetitions    int   `yaml:"repetitions"`
}

// Plan is a spec resolved for one backend and profile.
type Plan struct {
	Config                 models.Config
	Model                  string
	Seed                   uint64
	WeightsDType           models.DType
	KV                     device.KVDType
	MaxSeq, MaxBatch       int
	Repetitions            int
	ContinuationTokens     int
	ContextLengths         []int
	SnapshotDir            string // "" for a temporary directory
	WasmModes, NativeModes []device.Mode
}

// Presets are the model configurations a spec may name.
var Presets = map[string]func() models.Config{"llama-3.2-1b": models.Llama32_1B, "tiny": models.Tiny}

// Load reads and validates a kv spec.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a kv spec strictly and validates it; errors name the file,
// line and field.
func Parse(path string, data []byte) (*Spec, error) {
	var s Spec
	src, err := spec.Parse(path, data, &s, "$.experiment", "$.model", "$.seed", "$.weights_dtype", "$.kv_dtype",
		"$.max_seq", "$.max_batch", "$.repetitions", "$.continuation_tokens", "$.context_lengths", "$.backends")
	if err != nil {
		return nil, err
	}
	s.src = src
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func parseKV(s string) (device.KVDType, bool) {
	k := device.KVDType(s)
	return k, k.Size() > 0
}

func (s *Spec) validate() error {
	if s.Experiment != "kv" {
		return s.src.Errorf("$.experiment", "must be \"kv\", not %q", s.Experiment)
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
	if s.MaxSeq < 2 || s.MaxSeq > limit {
		return s.src.Errorf("$.max_seq", "must be in [2, %d], got %d", limit, s.MaxSeq)
	}
	if s.MaxBatch < 1 || s.MaxBatch > 4096 {
		return s.src.Errorf("$.max_batch", "must be in [1, 4096], got %d", s.MaxBatch)
	}
	if s.Repetitions < 2 {
		return s.src.Errorf("$.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", s.Repetitions)
	}
	if s.ContinuationTokens < 1 || s.ContinuationTokens >= s.MaxSeq {
		return s.src.Errorf("$.continuation_tokens", "must be in [1, max_seq %d), got %d", s.MaxSeq, s.ContinuationTokens)
	}
	if len(s.ContextLengths) == 0 {
		return s.src.Errorf("$.context_lengths", "must list at least one context length")
	}
	if err := s.checkLengths("$.context_lengths", s.ContextLengths); err != nil {
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
				mode, err := device.ParseMode(m)
				if err != nil {
					return s.src.Errorf(fmt.Sprintf("%s.%s[%d]", at, field, i), "%v", err)
				}
				if mode == device.Resident {
					// A resident mirror is updated only by explicit uploads:
					// bytes restored into the linear memory would not reach it.
					return s.src.Errorf(fmt.Sprintf("%s.%s[%d]", at, field, i), "mode resident cannot restore a snapshot in place")
				}
			}
		}
		if err := s.checkLengths(at+".context_lengths", b.ContextLengths); err != nil {
			return err
		}
	}
	if q := s.Quick; q != nil {
		if q.Repetitions != 0 && q.Repetitions < 2 {
			return s.src.Errorf("$.quick.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", q.Repetitions)
		}
		if err := s.checkLengths("$.quick.context_lengths", q.ContextLengths); err != nil {
			return err
		}
	}
	return nil
}

// checkLengths checks optional context lengths at: each conversation, with
// its continuation, must fit max_seq.
func (s *Spec) checkLengths(at string, lengths []int) error {
	for i, n := range lengths {
		if n < 1 || n+s.ContinuationTokens > s.MaxSeq {
			return s.src.Errorf(fmt.Sprintf("%s[%d]", at, i),
				"must be ≥ 1 and leave room for continuation_tokens %d within max_seq %d, got %d", s.ContinuationTokens, s.MaxSeq, n)
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
		Config: Presets[s.Model](), Model: s.Model, Seed: s.Seed, WeightsDType: wd, KV: kv,
		MaxSeq: s.MaxSeq, MaxBatch: s.MaxBatch, Repetitions: s.Repetitions,
		ContinuationTokens: s.ContinuationTokens, ContextLengths: s.ContextLengths, SnapshotDir: s.SnapshotDir,
	}
	if len(b.ContextLengths) > 0 {
		p.ContextLengths = b.ContextLengths
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
		if len(q.ContextLengths) > 0 {
			p.ContextLengths = q.ContextLengths
		}
		if q.Repetitions > 0 {
			p.Repetitions = q.Repetitions
		}
	}
	return p, nil
}
