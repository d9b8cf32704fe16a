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
	"slices"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/kv.yaml.
type Spec struct {
	experiments.Sections[BackendSpec, Profile] `yaml:",inline"`
	experiments.LLM                            `yaml:",inline"`
	// ContinuationTokens is how many greedy tokens after each restore are
	// compared with the uninterrupted conversation.
	ContinuationTokens int    `yaml:"continuation_tokens"`
	ContextLengths     []int  `yaml:"context_lengths"`
	SnapshotDir        string `yaml:"snapshot_dir"`
}

// BackendSpec is what one backend runs; empty fields take the top level's.
type BackendSpec struct {
	experiments.LLMBackend `yaml:",inline"`
	ContextLengths         []int `yaml:"context_lengths"`
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	ContextLengths []int `yaml:"context_lengths"`
	Repetitions    int   `yaml:"repetitions"`
}

// Plan is a spec resolved for one backend, profile and the command line's
// overrides.
type Plan struct {
	experiments.LLMPlan
	ContinuationTokens     int
	ContextLengths         []int
	SnapshotDir            string // "" for a temporary directory
	WasmModes, NativeModes []device.Mode
}

// Driver is the kv experiment as the harness runs it.
var Driver = experiments.Define(experiments.Driver{
	Name:      "kv",
	About:     "snapshot the guest's KV cache and restore it (file, warm and cold; TCP) vs re-prefilling",
	SetKeys:   []string{"ctx"},
	UsesModel: true,
	Table:     Table, Figures: Figures,
}, Parse, Run)

// Parse decodes a kv spec strictly and validates it (ParseSpec).
func Parse(path string, data []byte) (*Spec, error) {
	return experiments.ParseSpec[Spec]("kv", path, data, slices.Concat(experiments.LLMRequired, []string{"$.continuation_tokens", "$.context_lengths"})...)
}

// Validate checks the spec's values (experiments.Validator).
func (s *Spec) Validate() error {
	if err := s.LLM.Check(s.Src, 2); err != nil {
		return err
	}
	if s.ContinuationTokens < 1 || s.ContinuationTokens >= s.MaxSeq {
		return s.Src.Errorf("$.continuation_tokens", "must be in [1, max_seq %d), got %d", s.MaxSeq, s.ContinuationTokens)
	}
	if len(s.ContextLengths) == 0 {
		return s.Src.Errorf("$.context_lengths", "must list at least one context length")
	}
	if err := s.checkLengths("$.context_lengths", s.ContextLengths); err != nil {
		return err
	}
	err := experiments.CheckBackends(s.Src, s.Backends, func(b BackendSpec) experiments.Modes { return b.Modes },
		func(at string, m device.Mode) error {
			if m == device.Resident {
				// A resident mirror is updated only by explicit uploads:
				// bytes restored into the linear memory would not reach it.
				return s.Src.Errorf(at, "mode resident cannot restore a snapshot in place")
			}
			return nil
		},
		func(at string, b BackendSpec) error {
			if err := b.Check(s.Src, at); err != nil {
				return err
			}
			return s.checkLengths(at+".context_lengths", b.ContextLengths)
		})
	if err != nil {
		return err
	}
	if q := s.Quick; q != nil {
		if q.Repetitions != 0 && q.Repetitions < 2 {
			return s.Src.Errorf("$.quick.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", q.Repetitions)
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
			return s.Src.Errorf(fmt.Sprintf("%s[%d]", at, i),
				"must be ≥ 1 and leave room for continuation_tokens %d within max_seq %d, got %d", s.ContinuationTokens, s.MaxSeq, n)
		}
	}
	return nil
}

// Plan resolves the spec for backend, applying the quick profile if asked
// and then the command line's overrides: -reps (timed repetitions; the
// warm-up repetition is added) and -set ctx=….
func (s *Spec) Plan(backend string, quick bool, o experiments.Overrides) (Plan, error) {
	b, err := s.Backend(backend)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{LLMPlan: s.LLM.Resolve(), ContinuationTokens: s.ContinuationTokens, ContextLengths: s.ContextLengths, SnapshotDir: s.SnapshotDir}
	if len(b.ContextLengths) > 0 {
		p.ContextLengths = b.ContextLengths
	}
	p.WasmModes, p.NativeModes = b.Apply(&p.LLMPlan)
	if q := s.Quick; quick && q != nil {
		if len(q.ContextLengths) > 0 {
			p.ContextLengths = q.ContextLengths
		}
		if q.Repetitions > 0 {
			p.Repetitions = q.Repetitions
		}
	}
	if o.Reps > 0 {
		p.Repetitions = o.Reps + 1
	}
	if n, ok := o.Ints("ctx"); ok {
		p.ContextLengths = n
	}
	for _, n := range p.ContextLengths {
		if n+p.ContinuationTokens > p.MaxSeq {
			return Plan{}, fmt.Errorf("context %d + %d continuation tokens exceed max_seq %d", n, p.ContinuationTokens, p.MaxSeq)
		}
	}
	return p, nil
}
