package llmabi

import (
	"errors"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// ProgramRunner is implemented by a device Memory that runs a whole
// validated program itself, faster than call by call: metal encodes every
// call into one command buffer on one trip to its thread; cuda replays a
// CUDA graph captured once, with the position in a device-side parameter
// block. A Memory without it runs a program call by call through its
// device.LLMOps methods (Exec does that), as the cpu device does: each call
// then is exactly the per-op call, so the results are the same bit for bit.
//
// It lives here, beside Program, rather than in package device, because a
// program is made of Calls and device cannot import this package.
//
// What the caller (Exec) guarantees the device:
//
//   - p is decoded and every call validated against this Memory's size and
//     w (Call.Validate); the calls that move with the position are
//     validated again before each run, at that run's position;
//   - the weights stay w and the Memory only grows (Grow) between runs, so
//     a range valid once stays valid; nothing else runs on the Memory during
//     a Run;
//   - p's words that move with the position are exactly p.Patches: every
//     other word of every call is the same in every run;
//   - the PreparedProgram is closed before the Memory is.
type ProgramRunner interface {
	// PrepareProgram readies p for runs with the weights w (a device may
	// capture a graph here or at the first Run). An error wrapping
	// ErrCallByCall says the device does not run this program itself (a
	// patch it cannot express, say): the caller then runs it call by call.
	// Any other error refuses the program.
	PrepareProgram(p *Program, w device.Weights) (PreparedProgram, error)
}

// PreparedProgram is a program a device readied for runs.
type PreparedProgram interface {
	// Run runs the program once at position pos, with the effect of
	// dispatching calls in order: it returns when every call before the
	// program's last Sync has completed (a decode step ends with argmax
	// and a Sync, so its token is in memory), or with the first error.
	// calls are the program's calls at pos, validated: a device may run
	// them, or run what it prepared and use only pos.
	Run(pos int, calls []Call) error
	// Close releases what the device made for the program. It is called
	// once, before the Memory is closed.
	Close() error
}

// ErrCallByCall is what a ProgramRunner's PrepareProgram returns, wrapped,
// for a program it leaves to be run call by call.
var ErrCallByCall = errors.New("the device runs this program call by call")
