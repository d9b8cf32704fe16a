// Package tenants is the many-tenants experiment (issue 16): N Wasm guests,
// each its own instance and linear memory holding its own conversation, all
// sharing one copy of the weights on the device, their decode steps batched
// across sandboxes by runtime/tenants' pool. Per N it measures the
// aggregate tokens/s, each tenant's inter-token latency, admission (a fresh
// guest's prefill, and a restore after eviction), memory per tenant,
// fairness and the batch sizes the pool ran; every tenant's tokens must
// equal its prompt's decoded alone. Its spec is experiments/tenants.yaml.
package tenants

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/spec"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// MaxTenants is the most tenants one case may ask for: each is a wazero
// instance with its own linear memory reservation, and address space runs
// out long before a device's memory would at this count.
const MaxTenants = 1024

// The arrival processes a spec may name (Arrival.Process).
const (
	// ArrivalClosed admits every tenant at once, at the start.
	ArrivalClosed = "closed"
	// ArrivalPoisson admits tenants open-loop: exponential gaps at Rate
	// tenants/s, drawn from a seeded generator.
	ArrivalPoisson = "poisson"
)

// Spec is experiments/tenants.yaml.
type Spec struct {
	experiments.Sections[BackendSpec, Profile] `yaml:",inline"`
	experiments.LLM                            `yaml:",inline"`
	// Tenants are the numbers of concurrent tenants, one case each.
	Tenants []int `yaml:"tenants"`
	// PromptTokens is each tenant's prompt length (synthetic token ids).
	PromptTokens int `yaml:"prompt_tokens"`
	// DecodeTokens is how many tokens each tenant decodes after its prompt.
	DecodeTokens int `yaml:"decode_tokens"`
	// Prompts is how many distinct prompts there are: tenant i gets prompt
	// i mod Prompts, and each distinct prompt is decoded alone once for
	// the tokens every tenant of it must reproduce.
	Prompts int `yaml:"prompts"`
	// MaxWaitMS bounds how long a ready decode step waits for others to
	// join its batch (tenants.Options.MaxWait), in milliseconds; 0 turns
	// batching off (every step alone: the baseline to compare with).
	MaxWaitMS float64  `yaml:"max_wait_ms"`
	Arrival   Arrival  `yaml:"arrival"`
	Eviction  Eviction `yaml:"eviction"`
}

// Arrival is when tenants are admitted.
type Arrival struct {
	// Process is ArrivalClosed or ArrivalPoisson.
	Process string `yaml:"process"`
	// Rate is the Poisson process's tenants per second (> 0); a closed
	// start has none.
	Rate float64 `yaml:"rate"`
}

// Eviction is the idle phase: a fraction of the tenants, part-way through
// their decode, are snapshotted out and closed, stay away IdleMS, and are
// restored into fresh instances (admission by restore).
type Eviction struct {
	// Fraction of each case's tenants evicted, in [0, 1]; 0 (or no
	// eviction section) disables it. Tenant i is evicted when
	// ⌊(i+1)·f⌋ > ⌊i·f⌋, so every prefix of the tenants holds its share.
	Fraction float64 `yaml:"fraction"`
	// At is how far through its decode_tokens an evicted tenant leaves,
	// in (0, 1): after max(1, round(At·decode_tokens)) tokens, and never
	// after the last.
	At     float64 `yaml:"at"`
	IdleMS float64 `yaml:"idle_ms"`
}

// AfterTokens is how many tokens an evicted tenant decodes before it
// leaves, out of decode.
func (e Eviction) AfterTokens(decode int) int {
	return min(max(1, int(math.Round(e.At*float64(decode)))), decode-1)
}

// Evicted reports whether tenant i (from 0) is one of those evicted.
func (e Eviction) Evicted(i int) bool {
	return math.Floor(float64(i+1)*e.Fraction) > math.Floor(float64(i)*e.Fraction)
}

// BackendSpec is what one backend runs; empty fields take the top level's.
type BackendSpec struct {
	experiments.LLMBackend `yaml:",inline"`
	Tenants                []int    `yaml:"tenants"`
	PromptTokens           int      `yaml:"prompt_tokens"`
	DecodeTokens           int      `yaml:"decode_tokens"`
	Prompts                int      `yaml:"prompts"`
	Arrival                *Arrival `yaml:"arrival"`
}

// Profile overrides parts of the spec for a quick run (the CI's smoke run).
type Profile struct {
	// Model replaces the model preset, e.g. tiny.
	Model        string `yaml:"model"`
	Tenants      []int  `yaml:"tenants"`
	PromptTokens int    `yaml:"prompt_tokens"`
	DecodeTokens int    `yaml:"decode_tokens"`
	Prompts      int    `yaml:"prompts"`
	Repetitions  int    `yaml:"repetitions"`
}

// Plan is a spec resolved for one backend, profile and the command line's
// overrides.
type Plan struct {
	experiments.LLMPlan
	Tenants []int
	// TenantsAt is where Tenants came from, a YAML path ("$.tenants",
	// "$.backends.cuda.tenants", "$.quick.tenants") or "-set tenants", for
	// a refusal to name.
	TenantsAt                  string
	PromptTokens, DecodeTokens int
	Prompts                    int
	MaxWaitMS                  float64
	Arrival                    Arrival
	Eviction                   Eviction
	WasmModes                  []device.Mode
	src                        spec.Source
}

// Driver is the tenants experiment as the harness runs it.
var Driver = experiments.Define(experiments.Driver{
	Name:      "tenants",
	About:     "N guests sharing one model's weights, decode batched across sandboxes; throughput, latency, admission",
	SetKeys:   []string{"tenants", "prompt", "decode"},
	UsesModel: true,
	Table:     Table, Figures: Figures,
}, Parse, Run)

// Parse decodes a tenants spec strictly and validates it (ParseSpec).
func Parse(path string, data []byte) (*Spec, error) {
	return experiments.ParseSpec[Spec]("tenants", path, data, slices.Concat(experiments.LLMRequired,
		[]string{"$.tenants", "$.prompt_tokens", "$.decode_tokens", "$.prompts", "$.max_wait_ms", "$.arrival", "$.arrival.process"})...)
}

// Validate checks the spec's values (experiments.Validator).
func (s *Spec) Validate() error {
	if err := s.LLM.Check(s.Src, 3); err != nil {
		return err
	}
	if err := s.checkCase("$", s.Tenants, s.PromptTokens, s.DecodeTokens, s.Prompts, true); err != nil {
		return err
	}
	if !(s.MaxWaitMS >= 0 && s.MaxWaitMS <= 1000) {
		return s.Src.Errorf("$.max_wait_ms", "must be in [0, 1000] ms (how long a ready step waits for a batch), got %g", s.MaxWaitMS)
	}
	if err := s.checkArrival("$.arrival", s.Arrival); err != nil {
		return err
	}
	if err := s.checkEviction(); err != nil {
		return err
	}
	err := experiments.CheckBackends(s.Src, s.Backends, func(b BackendSpec) experiments.Modes { return b.Modes },
		func(at string, m device.Mode) error {
			if strings.Contains(at, ".native_modes") {
				return s.Src.Errorf(at, "tenants are guests: native_modes has no meaning here (list wasm_modes)")
			}
			return nil
		},
		func(at string, b BackendSpec) error {
			if err := b.Check(s.Src, at); err != nil {
				return err
			}
			if b.Arrival != nil {
				if err := s.checkArrival(at+".arrival", *b.Arrival); err != nil {
					return err
				}
			}
			return s.checkCase(at, b.Tenants, b.PromptTokens, b.DecodeTokens, b.Prompts, false)
		})
	if err != nil {
		return err
	}
	if q := s.Quick; q != nil {
		if q.Repetitions != 0 && q.Repetitions < 2 {
			return s.Src.Errorf("$.quick.repetitions", "must be ≥ 2 (the first is the warm-up), got %d", q.Repetitions)
		}
		if q.Model != "" {
			preset, ok := experiments.Presets[q.Model]
			if !ok {
				return s.Src.Errorf("$.quick.model", "unknown model preset %q (want %s)", q.Model, strings.Join(slices.Sorted(maps.Keys(experiments.Presets)), " or "))
			}
			if limit := preset().MaxPositionEmbeddings; s.MaxSeq > limit {
				return s.Src.Errorf("$.quick.model", "%s holds %d positions, fewer than max_seq %d", q.Model, limit, s.MaxSeq)
			}
		}
		if err := s.checkCase("$.quick", q.Tenants, q.PromptTokens, q.DecodeTokens, q.Prompts, false); err != nil {
			return err
		}
	}
	// A backend's lengths with the quick profile's must fit too.
	for _, name := range slices.Sorted(maps.Keys(s.Backends)) {
		for _, quick := range []bool{false, true} {
			if _, err := s.Plan(name, quick, experiments.Overrides{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCase checks the case fields under at; zero values are "not given"
// unless required (the top level).
func (s *Spec) checkCase(at string, tenants []int, prompt, decode, prompts int, required bool) error {
	if required && len(tenants) == 0 {
		return s.Src.Errorf(at+".tenants", "must list at least one number of tenants")
	}
	if err := checkTenants(s.Src, at+".tenants", tenants); err != nil {
		return err
	}
	if required || prompt != 0 {
		if prompt < 1 {
			return s.Src.Errorf(at+".prompt_tokens", "must be ≥ 1, got %d", prompt)
		}
	}
	if required || decode != 0 {
		if decode < 2 {
			return s.Src.Errorf(at+".decode_tokens", "must be ≥ 2 (an inter-token gap needs two tokens), got %d", decode)
		}
	}
	if p, d := cmp(prompt, s.PromptTokens), cmp(decode, s.DecodeTokens); p+d > s.MaxSeq {
		field := at + ".prompt_tokens"
		if prompt == 0 {
			field = at + ".decode_tokens"
		}
		return s.Src.Errorf(field, "prompt %d + decode %d tokens exceed max_seq %d", p, d, s.MaxSeq)
	}
	if required || prompts != 0 {
		if prompts < 1 || prompts > MaxTenants {
			return s.Src.Errorf(at+".prompts", "must be in [1, %d] distinct prompts, got %d", MaxTenants, prompts)
		}
	}
	return nil
}

// cmp is v, or def when v is zero (not given).
func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// checkTenants checks a list of tenant counts: each in [1, MaxTenants],
// increasing.
func checkTenants(src spec.Source, at string, tenants []int) error {
	for i, n := range tenants {
		field := fmt.Sprintf("%s[%d]", at, i)
		if n < 1 || n > MaxTenants {
			return src.Errorf(field, "must be in [1, %d] tenants, got %d", MaxTenants, n)
		}
		if i > 0 && n <= tenants[i-1] {
			return src.Errorf(field, "must be larger than the one before (%d), got %d", tenants[i-1], n)
		}
	}
	return nil
}

// checkArrival checks an arrival section at: a known process, a rate > 0
// for Poisson and none for a closed start.
func (s *Spec) checkArrival(at string, a Arrival) error {
	switch a.Process {
	case ArrivalPoisson:
		if !(a.Rate > 0) || math.IsInf(a.Rate, 0) {
			return s.Src.Errorf(at+".rate", "a Poisson arrival needs a rate > 0 tenants/s, got %g", a.Rate)
		}
	case ArrivalClosed:
		if a.Rate != 0 {
			return s.Src.Errorf(at+".rate", "a closed start admits every tenant at once and takes no rate, got %g", a.Rate)
		}
	default:
		return s.Src.Errorf(at+".process", "unknown arrival process %q (want %s or %s)", a.Process, ArrivalPoisson, ArrivalClosed)
	}
	return nil
}

// checkEviction checks the eviction section.
func (s *Spec) checkEviction() error {
	e := s.Eviction
	if !(e.Fraction >= 0 && e.Fraction <= 1) {
		return s.Src.Errorf("$.eviction.fraction", "must be in [0, 1], got %g", e.Fraction)
	}
	if e.Fraction == 0 {
		return nil
	}
	if !(e.At > 0 && e.At < 1) {
		return s.Src.Errorf("$.eviction.at", "must be in (0, 1), how far through its decode a tenant leaves, got %g", e.At)
	}
	if !(e.IdleMS >= 0 && e.IdleMS <= 60000) {
		return s.Src.Errorf("$.eviction.idle_ms", "must be in [0, 60000] ms, got %g", e.IdleMS)
	}
	return nil
}

// Plan resolves the spec for backend, applying the quick profile if asked
// and then the command line's overrides: -reps (timed repetitions; the
// warm-up repetition is added), -set tenants=…, prompt=… and decode=….
// CheckMemory then checks the plan against the device.
func (s *Spec) Plan(backend string, quick bool, o experiments.Overrides) (Plan, error) {
	b, err := s.Backend(backend)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{LLMPlan: s.LLM.Resolve(), Tenants: s.Tenants, TenantsAt: "$.tenants", PromptTokens: s.PromptTokens, DecodeTokens: s.DecodeTokens,
		Prompts: s.Prompts, MaxWaitMS: s.MaxWaitMS, Arrival: s.Arrival, Eviction: s.Eviction, src: s.Src}
	if len(b.Tenants) > 0 {
		p.Tenants, p.TenantsAt = b.Tenants, "$.backends."+backend+".tenants"
	}
	p.PromptTokens = cmp(b.PromptTokens, p.PromptTokens)
	p.DecodeTokens = cmp(b.DecodeTokens, p.DecodeTokens)
	p.Prompts = cmp(b.Prompts, p.Prompts)
	if b.Arrival != nil {
		p.Arrival = *b.Arrival
	}
	p.WasmModes, _ = b.Apply(&p.LLMPlan)
	if q := s.Quick; quick && q != nil {
		if q.Model != "" {
			p.Model, p.Config = q.Model, experiments.Presets[q.Model]()
		}
		if len(q.Tenants) > 0 {
			p.Tenants, p.TenantsAt = q.Tenants, "$.quick.tenants"
		}
		p.PromptTokens = cmp(q.PromptTokens, p.PromptTokens)
		p.DecodeTokens = cmp(q.DecodeTokens, p.DecodeTokens)
		p.Prompts = cmp(q.Prompts, p.Prompts)
		p.Repetitions = cmp(q.Repetitions, p.Repetitions)
	}
	if o.Reps > 0 {
		p.Repetitions = o.Reps + 1
	}
	if n, ok := o.Ints("tenants"); ok {
		if err := checkTenants(spec.Source{Path: "-set"}, "tenants", n); err != nil {
			return Plan{}, err
		}
		p.Tenants, p.TenantsAt = n, "-set tenants"
	}
	for _, key := range []string{"prompt", "decode"} {
		v, ok := o.Ints(key)
		if !ok {
			continue
		}
		if len(v) != 1 {
			return Plan{}, fmt.Errorf("-set %s: one count of tokens, got %d", key, len(v))
		}
		if key == "prompt" {
			p.PromptTokens = v[0]
		} else {
			p.DecodeTokens = v[0]
		}
	}
	if p.DecodeTokens < 2 {
		return Plan{}, fmt.Errorf("-set decode: %d tokens: an inter-token gap needs at least 2", p.DecodeTokens)
	}
	if p.PromptTokens+p.DecodeTokens > p.MaxSeq {
		what := "backends." + backend
		if quick {
			what += " with the quick profile"
		}
		if !o.IsZero() {
			what += " and " + strings.Join(o.Strings(), " ")
		}
		return Plan{}, s.Src.Errorf("$.max_seq", "%s: prompt %d + %d decoded tokens exceed max_seq %d", what, p.PromptTokens, p.DecodeTokens, p.MaxSeq)
	}
	return p, nil
}
