package llm

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// NewNative makes an engine that runs on the host, with no Wasm: its
// buffers are bump-allocated in mem (growing it with Grow, from offset 64 on:
// the engine owns mem) and its kernels are mem's device.LLMOps with the
// weights w. It is the native control for the Wasm guest: the same engine,
// the same kernels, the same memory layout, driven by host Go.
func NewNative(cfg models.Config, mem device.Memory, w device.Weights, opt Options) (*Engine, error) {
	ops, ok := mem.(device.LLMOps)
	if !ok {
		return nil, fmt.Errorf("llm native: %T does not implement device.LLMOps", mem)
	}
	b := &bump{mem: mem, top: 64}
	return New(cfg, &DeviceKernels{Memory: mem, Ops: ops, Weights: w}, b.alloc, opt)
}

// bump hands out consecutive 64-byte aligned ranges of a device Memory.
type bump struct {
	mem device.Memory
	top uint64
}

func (b *bump) alloc(size uint32) (Buf, []byte, error) {
	off := (b.top + 63) &^ 63
	end := off + uint64(size)
	if end > 1<<32 {
		return Buf{}, nil, fmt.Errorf("native memory: %d bytes exceed 4 GiB", end)
	}
	if end > b.mem.Size() {
		grow := (end + 65535) &^ 65535
		if err := b.mem.Grow(grow); err != nil {
			return Buf{}, nil, fmt.Errorf("native memory: %w", err)
		}
	}
	b.top = end
	view := b.mem.Bytes()[off:end:end]
	clear(view)
	return Buf{Off: uint32(off), Len: size}, view, nil
}

// DeviceKernels are Kernels over a device Memory's LLMOps with one set of
// weights: what the Wasm host does for a guest, minus the guest. They run
// programs (ProgramKernels) through the host's own path: the program's wire
// form decoded and validated by llmabi.Exec, as the Wasm host does for a
// guest's, so that a native run prices everything but the Wasm boundary.
type DeviceKernels struct {
	Memory  device.Memory
	Ops     device.LLMOps // Memory's kernels
	Weights device.Weights

	programs map[uint32]*llmabi.Exec
	last     uint32 // the last handle given
}

// Run calls the device's method for c's op (llmabi.Dispatch).
func (d *DeviceKernels) Run(c *llmabi.Call) error { return llmabi.Dispatch(d.Ops, d.Weights, c) }

// SubmitProgram validates p against the memory and the weights
// (llmabi.NewExec, after a round trip through its wire form) and returns
// its handle.
func (d *DeviceKernels) SubmitProgram(p *llmabi.Program) (uint32, error) {
	q, err := llmabi.DecodeProgram(p.Encode())
	if err != nil {
		return 0, err
	}
	x, err := llmabi.NewExec(q, d.Ops, d.Memory.Size(), d.Weights, 0)
	if err != nil {
		return 0, err
	}
	if d.programs == nil {
		d.programs = map[uint32]*llmabi.Exec{}
	}
	d.last++
	d.programs[d.last] = x
	return d.last, nil
}

// RunProgram runs program h at position pos.
func (d *DeviceKernels) RunProgram(h uint32, pos int) error {
	x, ok := d.programs[h]
	if !ok {
		return fmt.Errorf("no program %d", h)
	}
	return x.Run(d.Memory.Size(), pos)
}

// FreeProgram releases program h.
func (d *DeviceKernels) FreeProgram(h uint32) error {
	x, ok := d.programs[h]
	if !ok {
		return fmt.Errorf("no program %d", h)
	}
	delete(d.programs, h)
	return x.Close()
}
