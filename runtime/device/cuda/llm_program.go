package cuda

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// The program interface (llmabi.ProgramRunner) on cuda: a recorded token
// step — its calls at position 0 and the words that move with the
// position — becomes a Program with one run parameter, the position,
// replayed as a CUDA graph (program.go).

var _ llmabi.ProgramRunner = (*Memory)(nil)

// PrepareProgram readies p to run as a Program with the weights w. A step
// whose moving word is one a Program cannot move (an operand's length)
// is left to be run call by call (llmabi.ErrCallByCall). Other errors
// (NewProgram's) refuse the program, naming the call.
func (m *Memory) PrepareProgram(p *llmabi.Program, w device.Weights) (llmabi.PreparedProgram, error) {
	patches, err := positionPatches(p)
	if err != nil {
		return nil, err
	}
	prog, err := m.NewProgram(w, p.Calls, []int64{0}, patches)
	if err != nil {
		return nil, err
	}
	return &preparedProgram{p: prog, params: make([]int64, 1)}, nil
}

// positionPatches turns p's moving words into Patches of run parameter 0,
// the position, which p's calls were recorded at 0.
func positionPatches(p *llmabi.Program) ([]Patch, error) {
	out := make([]Patch, 0, len(p.Patches))
	for k, q := range p.Patches {
		w, err := p.PatchWord(k)
		if err != nil {
			return nil, fmt.Errorf("cuda: %w", err)
		}
		kind := PatchScalar
		switch w.Kind {
		case optable.PPtr:
			kind = PatchOffset
		case optable.PLen:
			return nil, fmt.Errorf("cuda: program patch %d moves %s of op %d (%s): %w", k, w.Name, q.Call, p.Calls[q.Call].Op, llmabi.ErrCallByCall)
		}
		out = append(out, Patch{Call: q.Call, Kind: kind, Index: w.Index, Param: 0, Mul: int64(q.Slope)})
	}
	return out, nil
}

// preparedProgram runs a Program at one position per run.
type preparedProgram struct {
	p      *Program
	params []int64 // the position, reused
}

// Run runs the step at pos; the Program computes and checks its moving
// words itself, so calls (the same, computed by the caller) are not used.
func (r *preparedProgram) Run(pos int, _ []llmabi.Call) error {
	r.params[0] = int64(pos)
	return r.p.Run(r.params)
}

// Close releases the Program's graphs and buffers.
func (r *preparedProgram) Close() error { return r.p.Close() }
