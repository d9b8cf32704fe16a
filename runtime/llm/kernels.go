package llm

import (
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Buf is a byte range of the engine's memory: the guest's linear memory, or
// the device Memory a native engine runs in.
type Buf struct {
	Off, Len uint32
}

// Span is b as a device.Span, the form kernel calls take.
func (b Buf) Span() device.Span { return device.Span{Off: uint64(b.Off), Len: uint64(b.Len)} }

// Kernels run the Llama kernels for the engine. Each call is one op of the
// op table (runtime/device/llmabi/optable) with spans of the engine's
// memory, built by llmabi's constructors; shapes and conventions are those
// of device.LLMOps. Weights are the implementation's business: the Wasm
// host binds them per guest, DeviceKernels holds them. The guest's
// implementation passes each call to the host's import for its op
// (runtime/guest/program/llm_gen.go) and never returns an error — the host
// traps the guest instead; a native engine's dispatches it to a device
// Memory (DeviceKernels). Run may keep no reference to c.
type Kernels interface {
	Run(c *llmabi.Call) error
}

// Alloc returns a new zeroed buffer of size bytes, at least 8-byte aligned,
// that stays put for the engine's life: its range for kernels and a view of
// its bytes for the engine (tokens in, logits and argmax out, the state
// header). The guest allocates with make and uses the pointer as offset; a
// native engine bumps through its device Memory.
type Alloc func(size uint32) (Buf, []byte, error)

// ProgramKernels are Kernels that also run the engine's token step as a
// program: recorded once from forward (llmabi.Record), submitted once, then
// run with one call per token instead of one per op. The guest's submit and
// run are one host call each; the host validates the program once and runs
// it (llmabi.Exec). DeviceKernels does the same natively.
type ProgramKernels interface {
	Kernels
	// SubmitProgram hands p over for runs and returns its handle, never 0.
	SubmitProgram(p *llmabi.Program) (uint32, error)
	// RunProgram runs program h once at position pos: its calls in order,
	// as Run would, and returns after its last Sync.
	RunProgram(h uint32, pos int) error
	// FreeProgram releases program h.
	FreeProgram(h uint32) error
}

// recorder is Kernels that keep the calls instead of running them: how the
// engine records its token step.
type recorder struct{ calls []llmabi.Call }

func (r *recorder) Run(c *llmabi.Call) error {
	r.calls = append(r.calls, *c)
	return nil
}
