//go:build darwin

package metal

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Programs on metal (llmabi.ProgramRunner). In zerocopy mode every op is
// already encoded into one open command buffer that Sync commits (see
// llm_exec_darwin.go), but each op's encoding is a trip to the Metal thread
// and back: two channel operations and a goroutine switch, 277 a Llama 1B
// token (one per basic op: the fused ops run as their definitions here). A
// program's run makes one trip: its calls are encoded in
// order on the thread, into one command buffer that the program's Sync
// commits and waits for (more than one only past maxQueued dispatches). Copy
// mode runs each op in a command buffer of its own (its inputs are the
// previous op's outputs, copied back), so a program gains nothing there and
// runs call by call. Not run: no Mac was at hand (cross-built and vetted).

var _ llmabi.ProgramRunner = (*Memory)(nil)

// PrepareProgram readies p for runs in zerocopy mode; in copy mode it
// leaves p to be run call by call (llmabi.ErrCallByCall).
func (m *Memory) PrepareProgram(p *llmabi.Program, w device.Weights) (llmabi.PreparedProgram, error) {
	if m.mode != device.ZeroCopy {
		return nil, fmt.Errorf("metal: %s mode: %w", m.mode, llmabi.ErrCallByCall)
	}
	if mw, ok := w.(*Weights); !ok || mw.d != m.d {
		return nil, fmt.Errorf("metal: program: weights were not loaded by this metal device")
	}
	return &program{m: m, w: w}, nil
}

// program is a program prepared on a Memory: nothing to hold but the
// weights, as each run encodes its calls afresh.
type program struct {
	m *Memory
	w device.Weights
}

// Run encodes calls in order on one trip to the Metal thread; the calls'
// Sync commits the command buffer and waits for it.
func (p *program) Run(_ int, calls []llmabi.Call) error {
	m := p.m
	if m.closed {
		return fmt.Errorf("metal: program: memory is closed")
	}
	return m.d.w.do(func() error {
		m.llm.onThread = true
		defer func() { m.llm.onThread = false }()
		for i := range calls {
			if err := llmabi.Dispatch(m, p.w, &calls[i]); err != nil {
				return fmt.Errorf("program op %d: %w", i, err)
			}
		}
		return nil
	})
}

// Close does nothing: a run leaves nothing behind.
func (p *program) Close() error { return nil }
