package experiments

import (
	"fmt"
	"strings"

	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Variants are the memory modes an experiment runs natively and from the
// guest, after the device and the -mode filter have had their say.
type Variants struct {
	Native, Wasm []device.Mode
	// Notes say which modes were dropped and why, for the result file.
	Notes []string
}

// Variants resolves a plan's native and guest modes on e's device; it fails,
// naming the experiment, when none is left to run.
func (e *Env) Variants(experiment string, native, wasm []device.Mode) (Variants, error) {
	var v Variants
	var notes []string
	v.Native, v.Notes = e.SelectModes(native)
	v.Wasm, notes = e.SelectModes(wasm)
	v.Notes = append(v.Notes, notes...)
	if len(v.Native)+len(v.Wasm) == 0 {
		return v, fmt.Errorf("%s: no memory mode left to run on %s", experiment, e.Device.Info().Backend)
	}
	return v, nil
}

// Names are the variants' names, "native-<mode>" then "wasm-<mode>", as
// results and tables call them.
func (v Variants) Names() []string {
	var names []string
	for _, m := range v.Native {
		names = append(names, "native-"+string(m))
	}
	for _, m := range v.Wasm {
		names = append(names, "wasm-"+string(m))
	}
	return names
}

// String lists the names comma-separated, for provenance.
func (v Variants) String() string { return strings.Join(v.Names(), ",") }

// Start begins a run of experiment: it resolves the variants (Variants) and
// returns the result file with the dropped modes' notes and the memory
// modes recorded.
func (e *Env) Start(experiment string, native, wasm []device.Mode) (*results.File, Variants, error) {
	v, err := e.Variants(experiment, native, wasm)
	if err != nil {
		return nil, v, err
	}
	f := &results.File{Experiment: experiment, Notes: v.Notes}
	f.Provenance.Mode = v.String()
	return f, v, nil
}

// StartLLM is Start for an LLM experiment: it also loads the model
// (LoadModel; the caller closes it) and records the weights, the dtypes and
// the model's name in the file's provenance.
func (e *Env) StartLLM(experiment string, p LLMPlan, native, wasm []device.Mode) (*results.File, Variants, *Model, error) {
	f, v, err := e.Start(experiment, native, wasm)
	if err != nil {
		return nil, v, nil, err
	}
	m, err := e.LoadModel(experiment, p.Config, p.Seed, p.WeightsDType)
	if err != nil {
		return nil, v, nil, err
	}
	f.Provenance.Weights = m.Host.Source
	f.Provenance.DTypes = map[string]string{"weights": string(m.Host.DType), "kv": string(p.KV), "activations": "f32"}
	f.Provenance.SetExtra("model", map[bool]string{true: p.Model, false: e.ModelDir}[e.ModelDir == ""])
	return f, v, m, nil
}
