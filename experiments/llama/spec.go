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
	"slices"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Spec is experiments/llama.yaml.
type Spec struct {
	experiments.Sections[BackendSpec, Profile] `yaml:",inline"`
	experiments.LLM                            `yaml:",inline"`
	DecodeTokens                               int   `yaml:"decode_tokens"`
	PromptLengths                              []int `yaml:"prompt_lengths"`
	// Dispatch lists how decode runs its token step, each a variant of
	// every mode: "op" (one host call per kernel: native-<mode>,
	// wasm-<mode>) and "program" (the step recorded once and run with one
	// call per token: native-<mode>-program, wasm-<mode>-program). Empty
	// means [op].
	Dispatch []string `yaml:"dispatch"`
}

// BackendSpec is what one backend runs; empty fields take the top level's.
type BackendSpec struct {
	experiments.LLMBackend `yaml:",inline"`
	PromptLengths          []int    `yaml:"prompt_lengths"`
	DecodeTokens           int      `yaml:"decode_tokens"`
	Dispatch               []string `yaml:"dispatch"`
}

// The dispatches a spec may list (Spec.Dispatch).
const (
	DispatchOp      = "op"
	DispatchProgram = "program"
)

// VariantName is a variant's name in results: "native-zerocopy",
// "wasm-managed-program". The op-by-op names are those of the results
// before programs existed, so comparisons across commits still pair them.
func VariantName(kind string, mode device.Mode, dispatch string) string {
	name := kind + "-" + string(mode)
	if dispatch == DispatchProgram {
		name += "-" + DispatchProgram
	}
	return name
}

// Profile overrides parts of the spec for a quick run.
type Profile struct {
	PromptLengths []int `yaml:"prompt_lengths"`
	DecodeTokens  int   `yaml:"decode_tokens"`
	Repetitions   int   `yaml:"repetitions"`
}

// Plan is a spec resolved for one backend, profile and the command line's
// overrides.
type Plan struct {
	experiments.LLMPlan
	DecodeTokens           int
	PromptLengths          []int
	WasmModes, NativeModes []device.Mode
	Dispatch               []string // "op", "program": a variant of each mode for each
}

// Driver is the llama experiment as the harness runs it.
var Driver = experiments.Define(experiments.Driver{
	Name:      "llama",
	About:     "Llama 3.2 1B prefill and per-token decode inside the guest vs natively; weight bandwidth",
	SetKeys:   []string{"prompt", "decode"},
	UsesModel: true,
	Table:     Table, Figures: Figures,
}, Parse, Run)

// Parse decodes a llama spec strictly and validates it (ParseSpec).
func Parse(path string, data []byte) (*Spec, error) {
	return experiments.ParseSpec[Spec]("llama", path, data, slices.Concat(experiments.LLMRequired, []string{"$.decode_tokens", "$.prompt_lengths"})...)
}

// Validate checks the spec's values (experiments.Validator).
func (s *Spec) Validate() error {
	if err := s.LLM.Check(s.Src, 1); err != nil {
		return err
	}
	if err := s.checkLengths("$", s.PromptLengths, s.DecodeTokens); err != nil {
		return err
	}
	if err := s.checkDispatch("$", s.Dispatch); err != nil {
		return err
	}
	err := experiments.CheckBackends(s.Src, s.Backends, func(b BackendSpec) experiments.Modes { return b.Modes }, nil,
		func(at string, b BackendSpec) error {
			if err := b.Check(s.Src, at); err != nil {
				return err
			}
			if err := s.checkDispatch(at, b.Dispatch); err != nil {
				return err
			}
			return s.checkLengths(at, b.PromptLengths, b.DecodeTokens)
		})
	if err != nil {
		return err
	}
	if q := s.Quick; q != nil {
		if q.Repetitions != 0 && q.Repetitions < 2 {
			return s.Src.Errorf("$.quick.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", q.Repetitions)
		}
		if err := s.checkLengths("$.quick", q.PromptLengths, q.DecodeTokens); err != nil {
			return err
		}
	}
	return nil
}

// checkDispatch checks an optional dispatch list under at: known names,
// each once.
func (s *Spec) checkDispatch(at string, ds []string) error {
	for i, d := range ds {
		field := fmt.Sprintf("%s.dispatch[%d]", at, i)
		if d != DispatchOp && d != DispatchProgram {
			return s.Src.Errorf(field, "unknown dispatch %q (want %s or %s)", d, DispatchOp, DispatchProgram)
		}
		if slices.Contains(ds[:i], d) {
			return s.Src.Errorf(field, "%s is listed twice", d)
		}
	}
	return nil
}

// checkLengths checks optional prompt lengths and decode counts under at:
// every conversation must fit max_seq.
func (s *Spec) checkLengths(at string, lengths []int, decode int) error {
	if decode < 0 || decode > s.MaxSeq {
		return s.Src.Errorf(at+".decode_tokens", "must be in [1, max_seq %d], got %d", s.MaxSeq, decode)
	}
	for i, n := range lengths {
		if n < 1 || n+max(decode, s.DecodeTokens) > s.MaxSeq {
			return s.Src.Errorf(fmt.Sprintf("%s.prompt_lengths[%d]", at, i),
				"must be ≥ 1 and leave room for the decoded tokens within max_seq %d, got %d", s.MaxSeq, n)
		}
	}
	return nil
}

// Plan resolves the spec for backend, applying the quick profile if asked
// and then the command line's overrides: -reps (timed repetitions; the
// warm-up repetition is added), -set prompt=… and -set decode=….
func (s *Spec) Plan(backend string, quick bool, o experiments.Overrides) (Plan, error) {
	b, err := s.Backend(backend)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{LLMPlan: s.LLM.Resolve(), DecodeTokens: s.DecodeTokens, PromptLengths: s.PromptLengths}
	if len(b.PromptLengths) > 0 {
		p.PromptLengths = b.PromptLengths
	}
	if b.DecodeTokens > 0 {
		p.DecodeTokens = b.DecodeTokens
	}
	p.WasmModes, p.NativeModes = b.Apply(&p.LLMPlan)
	p.Dispatch = s.Dispatch
	if len(b.Dispatch) > 0 {
		p.Dispatch = b.Dispatch
	}
	if len(p.Dispatch) == 0 {
		p.Dispatch = []string{DispatchOp}
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
	if o.Reps > 0 {
		p.Repetitions = o.Reps + 1
	}
	if d, ok := o.Ints("decode"); ok {
		if len(d) != 1 {
			return Plan{}, fmt.Errorf("-set decode: one count of decoded tokens, got %d", len(d))
		}
		p.DecodeTokens = d[0]
	}
	if n, ok := o.Ints("prompt"); ok {
		p.PromptLengths = n
	}
	for _, n := range p.PromptLengths {
		if n+p.DecodeTokens > p.MaxSeq {
			return Plan{}, fmt.Errorf("prompt %d + %d decoded tokens exceed max_seq %d", n, p.DecodeTokens, p.MaxSeq)
		}
	}
	return p, nil
}
