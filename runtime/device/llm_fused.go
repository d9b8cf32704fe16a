package device

import "fmt"

// The fused Llama ops. Decode runs one token through ~16 ops per layer, and
// on a GPU most of them are tiny kernels whose launch and drain cost more
// than their work (cuda/NOTES.md: ~290 kernels, 2.3 ms a token on an H100,
// against a 0.83 ms bandwidth floor). The fused ops below let a backend run
// a layer as six kernels instead; they are part of LLMOps.
//
// Design decision: each fused op is defined as a fixed sequence of the basic
// ops over spans the caller passes, scratch included, and the functions in
// this file run exactly that sequence. So a backend with nothing faster
// implements a fused op in one line (the metal backend does), every
// backend gives the basic sequence's results up to float32 summation order
// (the cpu backend's own fused ops give them bit for bit), and a fused
// kernel is free to leave the scratch spans untouched. A fused
// op's spans must be pairwise disjoint, except where its doc says otherwise:
// a fused kernel reads inputs while writing outputs.

// NormLinearMax is how many projections NormLinear computes at once (q, k, v).
const NormLinearMax = 3

// FusedLLMOps are the fused Llama ops; LLMOps includes them.
type FusedLLMOps interface {
	// NormLinear normalizes x (f32 [n, dim]) with RMSNorm weight norm into
	// the scratch xb ([n, dim]) and projects it with each weight:
	// outs[i] = xb·W_iᵀ. It is RMSNorm(norm, x, xb), then Linear(weights[i],
	// xb, outs[i]) for each i. 1 ≤ len(weights) = len(outs) ≤ NormLinearMax;
	// x is left unchanged.
	NormLinear(w Weights, norm int, weights []int, x, xb Span, outs []Span, n int, eps float32) error
	// NormGLU is a gated MLP's input half: out = silu(xb·Gᵀ)·(xb·Uᵀ) with
	// xb = RMSNorm(norm, x). It is RMSNorm(norm, x, xb), Linear(gate, xb,
	// out), Linear(up, xb, tmp), SwiGLU(out, tmp, out); xb ([n, dim]) and tmp
	// ([n, inter]) are scratch, x is left unchanged.
	NormGLU(w Weights, norm, gate, up int, x, xb, tmp, out Span, n int, eps float32) error
	// LinearAdd adds a projection to the residual stream: resid += x·Wᵀ.
	// It is Linear(weight, x, tmp), then Add(resid, tmp); tmp is scratch of
	// resid's size.
	LinearAdd(w Weights, weight int, x, tmp, resid Span, n int) error
	// RoPEKV rotates q and k for positions pos..pos+n-1 and appends k and v
	// to the caches: RoPE(q, invFreq, n, heads, headDim, pos), RoPE(k,
	// invFreq, n, kvHeads, headDim, pos), KVStore(k, kCache, dt, n, pos,
	// kvHeads·headDim), KVStore(v, vCache, ...).
	RoPEKV(q, k, v, invFreq, kCache, vCache Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error
}

// The basic-op sequences that define the fused ops. A backend's fused op may
// call them as its whole implementation, or for the shapes and modes its
// fused kernels do not cover. Each checks its spans first (the Check
// functions below), then calls the basic ops in order; ops is usually the
// backend's own Memory.

// ComposeNormLinear runs NormLinear as RMSNorm then Linear per weight.
func ComposeNormLinear(ops LLMOps, size uint64, w Weights, norm int, weights []int, x, xb Span, outs []Span, n int, eps float32) error {
	if _, err := CheckNormLinear(size, w, norm, weights, x, xb, outs, n, eps); err != nil {
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

// ComposeNormGLU runs NormGLU as RMSNorm, two Linears and SwiGLU.
func ComposeNormGLU(ops LLMOps, size uint64, w Weights, norm, gate, up int, x, xb, tmp, out Span, n int, eps float32) error {
	if _, _, err := CheckNormGLU(size, w, norm, gate, up, x, xb, tmp, out, n, eps); err != nil {
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

// ComposeLinearAdd runs LinearAdd as Linear into tmp, then Add.
func ComposeLinearAdd(ops LLMOps, size uint64, w Weights, weight int, x, tmp, resid Span, n int) error {
	if _, err := CheckLinearAdd(size, w, weight, x, tmp, resid, n); err != nil {
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

// ComposeRoPEKV runs RoPEKV as two RoPEs and two KVStores.
func ComposeRoPEKV(ops LLMOps, size uint64, q, k, v, invFreq, kCache, vCache Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := CheckRoPEKV(size, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim); err != nil {
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
