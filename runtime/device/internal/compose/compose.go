// Package compose runs each fused Llama op as its definition: the fixed
// sequence of basic ops the op table gives it (optable.Op.Def), on spans the
// caller passes, scratch included. A backend with nothing faster implements
// a fused op as one call here (the metal backend does), and one whose fused
// kernels do not cover a shape or mode falls back to it (cuda in copy mode).
// Every backend then gives the basic sequence's results up to float32
// summation order, and a fused kernel is free to leave the scratch spans
// untouched.
//
// Why fused ops exist: decode runs one token through ~16 ops a layer, and on
// a GPU most are tiny kernels whose launch and drain cost more than their
// work; the fused ops let a backend run a layer as six (RATIONALE.md).
package compose

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Each function validates the fused call first, as the fused op would
// (llmabi.Call.Validate on memory of size bytes), then runs the basic ops
// in order on ops, usually the backend's own Memory; an error names the
// fused op and the step.

// NormLinear runs NormLinear as RMSNorm, then Linear per weight.
func NormLinear(ops device.LLMOps, size uint64, w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	c := llmabi.NormLinear(norm, weights, x, xb, outs, n, eps)
	if err := c.Validate(size, w); err != nil {
		return err
	}
	if err := ops.RMSNorm(w, norm, x, xb, n, eps); err != nil {
		return fmt.Errorf("norm_linear: %w", err)
	}
	for i, id := range weights {
		if err := ops.Linear(w, id, xb, outs[i], n); err != nil {
			return fmt.Errorf("norm_linear: projection %d: %w", i, err)
		}
	}
	return nil
}

// NormGLU runs NormGLU as RMSNorm, two Linears and SwiGLU.
func NormGLU(ops device.LLMOps, size uint64, w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	c := llmabi.NormGLU(norm, gate, up, x, xb, tmp, out, n, eps)
	if err := c.Validate(size, w); err != nil {
		return err
	}
	err := ops.RMSNorm(w, norm, x, xb, n, eps)
	if err == nil {
		err = ops.Linear(w, gate, xb, out, n)
	}
	if err == nil {
		err = ops.Linear(w, up, xb, tmp, n)
	}
	if err == nil {
		err = ops.SwiGLU(out, tmp, out, int(out.Len/4))
	}
	if err != nil {
		return fmt.Errorf("norm_glu: %w", err)
	}
	return nil
}

// LinearAdd runs LinearAdd as Linear into tmp, then Add.
func LinearAdd(ops device.LLMOps, size uint64, w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	c := llmabi.LinearAdd(weight, x, tmp, resid, n)
	if err := c.Validate(size, w); err != nil {
		return err
	}
	err := ops.Linear(w, weight, x, tmp, n)
	if err == nil {
		err = ops.Add(resid, tmp, int(resid.Len/4))
	}
	if err != nil {
		return fmt.Errorf("linear_add: %w", err)
	}
	return nil
}

// RoPEKV runs RoPEKV as two RoPEs and two KVStores.
func RoPEKV(ops device.LLMOps, size uint64, q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	c := llmabi.RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
	if err := c.Validate(size, nil); err != nil {
		return err
	}
	width := kvHeads * headDim
	err := ops.RoPE(q, invFreq, n, heads, headDim, pos)
	if err == nil {
		err = ops.RoPE(k, invFreq, n, kvHeads, headDim, pos)
	}
	if err == nil {
		err = ops.KVStore(k, kCache, dt, n, pos, width)
	}
	if err == nil {
		err = ops.KVStore(v, vCache, dt, n, pos, width)
	}
	if err != nil {
		return fmt.Errorf("rope_kv: %w", err)
	}
	return nil
}

// Run runs c, a fused op's call, as its definition; a basic op's call goes
// to ops as is.
func Run(ops device.LLMOps, size uint64, w device.Weights, c *llmabi.Call) error {
	switch c.Op {
	case llmabi.OpNormLinear:
		if c.Count < 1 || c.Count > device.NormLinearMax {
			return c.Validate(size, w) // the count's error
		}
		ws, ss := c.W, c.S
		return NormLinear(ops, size, w, c.W[0], ws[1:1+c.Count], c.S[0], c.S[1], ss[2:2+c.Count], c.I[0], c.F)
	case llmabi.OpNormGLU:
		return NormGLU(ops, size, w, c.W[0], c.W[1], c.W[2], c.S[0], c.S[1], c.S[2], c.S[3], c.I[0], c.F)
	case llmabi.OpLinearAdd:
		return LinearAdd(ops, size, w, c.W[0], c.S[0], c.S[1], c.S[2], c.I[0])
	case llmabi.OpRoPEKV:
		return RoPEKV(ops, size, c.S[0], c.S[1], c.S[2], c.S[3], c.S[4], c.S[5], c.KV, c.I[0], c.I[1], c.I[2], c.I[3], c.I[4])
	}
	return llmabi.Dispatch(ops, w, c)
}
