package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// The Llama kernels of the host ABI: one host function per op of the op
// table (runtime/device/llmabi/optable), named "llm_" + the op's name, whose
// parameters are the op's wire words in the table's order — its weights'
// tensor ids (int32; a repeated group's count first), each operand's
// (ptr, len), then its scalars; eps is an f32, every other word an i32:
//
//	llm_linear(weight, x, x_len, out, out_len, n)
//	llm_norm_linear(norm, count, weights0, weights1, weights2, x, x_len, xb, xb_len,
//	                outs0, outs0_len, outs1, outs1_len, outs2, outs2_len, n, eps f32)
//
// (`go doc ./runtime/device/llmabi/optable Ops` has them all). Each decodes
// its arguments into an llmabi.Call, validates it against the guest's
// current memory and the weights bound to the guest (Guest.Weights) —
// bounds in 64-bit arithmetic, lengths against the shapes and the weights,
// hazardous overlaps — and dispatches it to the guest's device memory. Any
// error traps the guest with a message naming the op and the argument;
// nothing a guest passes makes the host panic. The device's method
// validates the call again: it trusts no caller, and a native engine
// calls it directly. A guest may also submit a sequence of these calls
// once, as a program, and run it with one host call per token
// (llm_program.go).

// LLMFuncs are the host functions of the Llama kernels. They are part of the
// core ABI (every guest imports them, so every runtime registers them): do
// not pass them in Config.Funcs.
func LLMFuncs() []HostFunc {
	var fs []HostFunc
	for _, op := range llmabi.Ops() {
		fs = append(fs, llmFunc(op))
	}
	return fs
}

// llmFunc is op's host function. A panic from below (a device bug) still
// ends as a trap of this guest call rather than an unexplained crash.
func llmFunc(op llmabi.Op) HostFunc {
	var params []api.ValueType
	for _, p := range op.Layout().Wire {
		if p.Kind == optable.PF32 {
			params = append(params, api.ValueTypeF32)
		} else {
			params = append(params, i32)
		}
	}
	return HostFunc{Name: op.Import(), Params: params, Fn: func(_ context.Context, g *Guest, s []uint64) {
		ops, ok := g.mem.(device.LLMOps)
		if !ok {
			g.Trap("device memory %T has no LLM kernels", g.mem)
		}
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(*TrapError); ok {
					panic(r)
				}
				g.Trap("internal error: %v", r)
			}
		}()
		var c llmabi.Call
		err := llmabi.Decode(op, s[:len(params)], &c)
		if err == nil {
			err = c.Validate(uint64(g.caller.Memory().Size()), g.Weights)
		}
		if err == nil {
			if w := c.Work(g.Weights); w > g.limits.MaxCallWork {
				panic(g.limitTrap("MaxCallWork", "%s asks for %d multiply-adds, more than the guest's limit of %d", op, w, g.limits.MaxCallWork))
			}
			err = llmabi.Dispatch(ops, g.Weights, &c)
		}
		if err != nil {
			g.Trap("%v", err)
		}
	}}
}
