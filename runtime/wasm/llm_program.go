package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Programs: a guest's token step, recorded once, submitted once, run with
// one host call per token (llmabi's notes on programs say what a program
// is):
//
//	llm_program_submit(ptr, len) -> handle   the program's wire form at [ptr, +len)
//	llm_program_run(handle, pos)             one run at position pos
//	llm_program_free(handle)
//
// Submit copies the words out of the guest's memory (the guest, or a
// device still writing its memory, cannot change what was validated),
// decodes them and validates every call against the guest's memory and
// weights (llmabi.NewExec), holding a run's work to the guest's
// MaxCallWork: a run is one host call. Run validates again only the calls
// whose words move with the position. Every refusal traps the guest with an
// error naming the call's index in the program and the operand.
//
// Handles are numbered across the whole process and never reused, and each
// guest holds only its own: a handle of another guest instance, of a closed
// guest or of a freed program is refused, and never runs another program.
// The refusal does not say whose a handle is: one tenant learns nothing
// of another's. A guest holds at most maxPrograms; they are released when
// it is closed, before its memory.

// maxPrograms is how many programs one guest may hold at once: its decode
// step takes two (greedy and sampling); each holds at most
// llmabi.MaxProgramCalls calls, about 1 MB of host memory.
const maxPrograms = 16

// programSeq numbers program handles across the process; 0 is never one.
var programSeq atomic.Uint32

// programFuncs are the program host functions (part of the core ABI).
func programFuncs() []HostFunc {
	return []HostFunc{
		{Name: "llm_program_submit", Params: []api.ValueType{i32, i32}, Results: []api.ValueType{i32}, Fn: hostProgramSubmit},
		{Name: "llm_program_run", Params: []api.ValueType{i32, i32}, Fn: hostProgramRun},
		{Name: "llm_program_free", Params: []api.ValueType{i32}, Fn: hostProgramFree},
	}
}

// hostProgramSubmit is llm_program_submit(ptr, len) -> handle.
func hostProgramSubmit(_ context.Context, g *Guest, s []uint64) {
	ops, ok := g.mem.(device.LLMOps)
	if !ok {
		g.Trap("device memory %T has no LLM kernels", g.mem)
	}
	ptr, n := uint32(s[0]), uint32(s[1])
	switch {
	case n%4 != 0:
		g.Trap("program of %d bytes is not a whole number of 32-bit words", n)
	case n > llmabi.MaxProgramBytes:
		g.Trap("program of %d bytes is longer than a program may be (%d bytes)", n, llmabi.MaxProgramBytes)
	}
	b, ok := g.Read(ptr, n)
	if !ok {
		g.Trap("program range [%#x, %#x) is outside linear memory of %#x bytes", ptr, uint64(ptr)+uint64(n), g.Size())
	}
	words := make([]uint32, n/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	p, err := llmabi.DecodeProgram(words)
	if err != nil {
		g.Trap("%v", err)
	}
	if len(g.programs) >= maxPrograms {
		g.Trap("the guest holds %d programs, the most it may: free one first", len(g.programs))
	}
	x, err := llmabi.NewExec(p, ops, g.Size(), g.Weights, g.limits.MaxCallWork)
	if err != nil {
		g.programTrap(err)
	}
	h := programSeq.Add(1)
	if h == 0 { // 2^32 handles issued: never wrap onto a live one
		programSeq.Store(math.MaxUint32)
		x.Close()
		g.Trap("program handles are exhausted")
	}
	if g.programs == nil {
		g.programs = map[uint32]*llmabi.Exec{}
	}
	g.programs[h] = x
	s[0] = uint64(h)
}

// hostProgramRun is llm_program_run(handle, pos).
func hostProgramRun(_ context.Context, g *Guest, s []uint64) {
	x := g.program(uint32(s[0]))
	if !sameWeights(x.Weights(), g.Weights) {
		g.Trap("program %d was validated against other weights than the guest's now: submit it again", uint32(s[0]))
	}
	pos := int(uint32(s[1]))
	var err error
	if g.RunProgram != nil {
		err = g.RunProgram(g, x, pos)
	} else {
		err = x.Run(g.Size(), pos)
	}
	if err != nil {
		g.programTrap(err)
	}
}

// hostProgramFree is llm_program_free(handle).
func hostProgramFree(_ context.Context, g *Guest, s []uint64) {
	h := uint32(s[0])
	x := g.program(h)
	delete(g.programs, h)
	if err := x.Close(); err != nil {
		g.Trap("free program %d: %v", h, err)
	}
}

// program returns the guest's program h, or traps.
func (g *Guest) program(h uint32) *llmabi.Exec {
	x, ok := g.programs[h]
	if !ok {
		g.Trap("program handle %d is not one of this guest's (never given to it, freed, or another guest's)", h)
	}
	return x
}

// programTrap traps with err: a run's work over the guest's MaxCallWork as
// that limit's trap, anything else as it is.
func (g *Guest) programTrap(err error) {
	var we *llmabi.WorkError
	if errors.As(err, &we) {
		panic(g.limitTrap("MaxCallWork", "%v", err))
	}
	g.Trap("%v", err)
}

// releasePrograms closes the guest's programs: the linear memory calls it
// before the device memory goes (see linearMemory), when no call runs.
func (g *Guest) releasePrograms() error {
	var errs []error
	for h, x := range g.programs {
		errs = append(errs, x.Close())
		delete(g.programs, h)
	}
	return errors.Join(errs...)
}

// sameWeights reports whether a and b are the same weights: equal values
// of one comparable type (a device's loaded weights are a pointer), or the
// same slice (llmabi.HostWeights).
func sameWeights(a, b device.Weights) (same bool) {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	switch {
	case ta == nil:
		return true
	case ta.Kind() == reflect.Slice:
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		return va.Pointer() == vb.Pointer() && va.Len() == vb.Len()
	case ta.Comparable():
		defer func() {
			if recover() != nil { // a struct holding an uncomparable value: unknown, so not the same
				same = false
			}
		}()
		return a == b
	}
	return false
}
