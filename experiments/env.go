// Package experiments holds the experiment specs (*.yaml, data, built into
// the binary) and what every experiment driver shares: the environment a
// run gets from the harness (Env, with the command line's Overrides), the
// parts of a spec every experiment has and their strict parsing
// (Sections, Modes, LLM, ParseSpec), the run's start (Start, StartLLM) and
// the Driver the harness lists. Each experiment kind is a subpackage
// (matmul, llama, kv) that turns a spec into a results.File; drivers use
// runtime/ only, never a backend directly. Adding an experiment is a spec
// and a Driver.
package experiments

import (
	"fmt"
	"io"
	"slices"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Env is what the harness gives a driver.
type Env struct {
	// Device is the opened backend.
	Device device.Device
	// Modes, when not empty, restricts the memory modes to these.
	Modes []device.Mode
	// Quick selects the spec's quick profile: fewer sizes and repetitions.
	Quick bool
	// CacheDir is wazero's compilation cache ("" for none).
	CacheDir string
	// ModelDir is a Hugging Face model folder ("" for synthetic weights).
	ModelDir string
	// Overrides are the command line's changes to the plan.
	Overrides Overrides
	// TempDir is where a driver puts scratch files ("" for the system's
	// temporary directory); the harness removes it when the run ends,
	// even when an interrupt ends the process.
	TempDir string
	// Log receives progress lines; Progress, when set, is advanced once per
	// timed sample so a bar can show the run's progress.
	Log      io.Writer
	Progress func(done, total int, what string)
}

// Logf writes a progress line.
func (e *Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// Tick reports progress.
func (e *Env) Tick(done, total int, what string) {
	if e.Progress != nil {
		e.Progress(done, total, what)
	}
}

// SelectModes returns the modes of want that the device offers and that
// Env.Modes allows, in want's order, and notes about the ones dropped.
func (e *Env) SelectModes(want []device.Mode) ([]device.Mode, []string) {
	var out []device.Mode
	var notes []string
	have := e.Device.Modes()
	for _, m := range want {
		switch {
		case !slices.Contains(have, m):
			notes = append(notes, fmt.Sprintf("mode %s skipped: %s device does not offer it", m, e.Device.Info().Backend))
		case len(e.Modes) > 0 && !slices.Contains(e.Modes, m):
			notes = append(notes, fmt.Sprintf("mode %s skipped: not selected by -mode", m))
		default:
			out = append(out, m)
		}
	}
	return out, notes
}
