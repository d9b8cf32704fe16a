//go:build wasip1

package main

import (
	"runtime"

	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// The token step as a program (runtime/wasm/llm_program.go): the engine
// records its decode step once, submits it with one host call and runs it
// with one host call per token. A call the host refuses traps the guest.

//go:wasmimport wasmgpu llm_program_submit
func hostLLMProgramSubmit(ptr, n uint32) uint32

//go:wasmimport wasmgpu llm_program_run
func hostLLMProgramRun(handle, pos uint32)

//go:wasmimport wasmgpu llm_program_free
func hostLLMProgramFree(handle uint32)

var _ llm.ProgramKernels = hostKernels{}

// SubmitProgram hands the program's wire form to the host.
func (hostKernels) SubmitProgram(p *llmabi.Program) (uint32, error) {
	words := p.Encode()
	h := hostLLMProgramSubmit(ptr(&words[0]), uint32(4*len(words)))
	runtime.KeepAlive(words)
	return h, nil
}

// RunProgram runs program h at position pos: one host call.
func (hostKernels) RunProgram(h uint32, pos int) error {
	hostLLMProgramRun(h, uint32(pos))
	return nil
}

// FreeProgram releases program h.
func (hostKernels) FreeProgram(h uint32) error {
	hostLLMProgramFree(h)
	return nil
}

// llm_set_program chooses how decode runs its token step: as one program
// run per token (on = 1) or op by op (on = 0); it returns 0 or -1.
//
//go:wasmexport llm_set_program
func llmSetProgram(on uint32) int32 {
	return status(func(e *llm.Engine) (int32, error) { return 0, e.SetProgram(on != 0) })
}

// raw_program_submit passes [p, +n) to the host's llm_program_submit
// unchecked: tests use it to play a hostile guest.
//
//go:wasmexport raw_program_submit
func rawProgramSubmit(p, n uint32) uint32 { return hostLLMProgramSubmit(p, n) }

// raw_program_run calls the host's llm_program_run unchecked.
//
//go:wasmexport raw_program_run
func rawProgramRun(h, pos uint32) { hostLLMProgramRun(h, pos) }

// raw_program_free calls the host's llm_program_free unchecked.
//
//go:wasmexport raw_program_free
func rawProgramFree(h uint32) { hostLLMProgramFree(h) }
