package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/models"
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
// calls it directly.

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
			err = llmabi.Dispatch(ops, g.Weights, &c)
		}
		if err != nil {
			g.Trap("%v", err)
		}
	}}
}

// The host side of the guest's llm_* exports: typed wrappers that move a
// config or tokens into the guest and read results back.

// LLMInit writes cfg as config.json into the guest and makes its engine with
// KV dtype kv, context maxSeq and tokens per pass maxBatch (0: defaults).
// Bind weights (g.Weights) before running it.
func (g *Guest) LLMInit(ctx context.Context, cfg models.Config, kv device.KVDType, maxSeq, maxBatch int) error {
	if kv == "" {
		kv = device.KVBF16
	}
	code, ok := kv.Code()
	if !ok {
		return fmt.Errorf("llm init: KV dtype %q is not f32, bf16 or f16", kv)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("llm init: %w", err)
	}
	res, err := g.Call(ctx, "alloc", uint64(len(js)))
	if err != nil {
		return fmt.Errorf("llm init: %w", err)
	}
	if !g.mod.Memory().Write(uint32(res[0]), js) {
		return errors.New("llm init: guest returned a config buffer outside its memory")
	}
	return g.llmStatus(ctx, "llm_init", res[0], uint64(len(js)), uint64(code), uint64(maxSeq), uint64(maxBatch))
}

// llmStatus calls an llm_* export and turns a -1 into the guest's message.
func (g *Guest) llmStatus(ctx context.Context, name string, args ...uint64) error {
	_, err := g.llmCall(ctx, name, args...)
	return err
}

func (g *Guest) llmCall(ctx context.Context, name string, args ...uint64) (int32, error) {
	res, err := g.Call(ctx, name, args...)
	if err != nil {
		return 0, err
	}
	v := int32(uint32(res[0]))
	if v >= 0 {
		return v, nil
	}
	msg := "unknown error"
	p, errP := g.Call(ctx, "llm_err_ptr")
	n, errN := g.Call(ctx, "llm_err_len")
	if errP == nil && errN == nil {
		if b, ok := g.Read(uint32(p[0]), uint32(n[0])); ok {
			msg = string(b)
		}
	}
	return v, fmt.Errorf("%s: %s", name, msg)
}

// llmTokens writes tokens into the guest's token buffer and returns its offset.
func (g *Guest) llmTokens(ctx context.Context, tokens []int32) (uint64, error) {
	if len(tokens) == 0 || len(tokens) > 1<<24 {
		return 0, fmt.Errorf("llm: %d tokens", len(tokens))
	}
	res, err := g.Call(ctx, "llm_tokens_buf", uint64(len(tokens)))
	if err != nil {
		return 0, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&tokens[0])), 4*len(tokens))
	if !g.mod.Memory().Write(uint32(res[0]), b) {
		return 0, errors.New("llm: guest token buffer is outside its memory")
	}
	return res[0], nil
}

// LLMPrefill runs the guest's llm_prefill on tokens and returns the next token.
func (g *Guest) LLMPrefill(ctx context.Context, tokens []int32) (int32, error) {
	p, err := g.llmTokens(ctx, tokens)
	if err != nil {
		return 0, err
	}
	return g.llmCall(ctx, "llm_prefill", p, uint64(len(tokens)))
}

// LLMDecode runs the guest's llm_decode on one token and returns the next.
func (g *Guest) LLMDecode(ctx context.Context, token int32) (int32, error) {
	return g.llmCall(ctx, "llm_decode", uint64(uint32(token)))
}

// LLMForward runs the guest's llm_forward and returns a copy of the logits
// it wrote: the last token's row, or every token's with all.
func (g *Guest) LLMForward(ctx context.Context, tokens []int32, all bool) ([]float32, error) {
	p, err := g.llmTokens(ctx, tokens)
	if err != nil {
		return nil, err
	}
	a := uint64(0)
	if all {
		a = 1
	}
	if err := g.llmStatus(ctx, "llm_forward", p, uint64(len(tokens)), a); err != nil {
		return nil, err
	}
	ptr, err1 := g.Call(ctx, "llm_logits_ptr")
	n, err2 := g.Call(ctx, "llm_logits_len")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	b, ok := g.Read(uint32(ptr[0]), uint32(n[0]))
	if !ok {
		return nil, errors.New("llm: guest logits are outside its memory")
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out, nil
}

// LLMState returns the guest's state region (offset, length) and position.
func (g *Guest) LLMState(ctx context.Context) (off, length uint32, pos int, err error) {
	o, err1 := g.Call(ctx, "llm_state_ptr")
	l, err2 := g.Call(ctx, "llm_state_len")
	p, err3 := g.llmCall(ctx, "llm_pos")
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, err
	}
	return uint32(o[0]), uint32(l[0]), int(p), nil
}
