package llm

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// forward runs the model over n tokens (already in the state's token ids)
// at positions pos..pos+n-1, appending their keys and values to the cache,
// and writes logits for the last token (row 0) or, with all, every token;
// with head false it stops before the final norm and lm_head (a prompt's
// chunks before its last, whose logits nobody reads: on the 1B model,
// lm_head is a fifth of a token's multiply-adds).
// It is reference.go's forward pass, each step one kernel call (two of the
// reference's steps for the fused ones) on the engine's memory.
func (e *Engine) forward(n, pos int, all, head bool) error {
	c, s, ids := e.cfg, &e.s, e.ids
	dim, hd := c.HiddenSize, c.HeadDim
	heads, kvHeads, kvd := c.NumAttentionHeads, c.NumKeyValueHeads, e.layout.Width
	eps := float32(c.RMSNormEps)
	k := &e.latch
	k.err = nil
	// This pass's rows of each activation buffer.
	x, xb := e.row(s.x, 0, n, dim), e.row(s.xb, 0, n, dim)
	q, att := e.row(s.q, 0, n, heads*hd), e.row(s.att, 0, n, heads*hd)
	kk, vv := e.row(s.k, 0, n, kvd), e.row(s.v, 0, n, kvd)
	hb, hb2 := e.row(s.hb, 0, n, c.IntermediateSize), e.row(s.hb2, 0, n, c.IntermediateSize)
	tokens := Buf{Off: e.state.Off + e.layout.Tokens + uint32(4*pos), Len: uint32(4 * n)}.Span()

	// Embed: x = rows of the embedding table for the tokens.
	k.run("embed", -1, llmabi.Embed(ids.Embed, tokens, x, n))
	for l, L := range ids.Layers {
		kc := Buf{Off: e.state.Off + e.layout.K[l], Len: e.layout.LayerBytes}.Span()
		vc := Buf{Off: e.state.Off + e.layout.V[l], Len: e.layout.LayerBytes}.Span()
		// Attention block input and projections: xb = rmsnorm(x)·attnNorm,
		// then q, k, v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ.
		k.run("attn norm+qkv", l, llmabi.NormLinear(L.AttnNorm, e.qkv[l], x, xb, []device.Span{q, kk, vv}, n, eps))
		// Rotate q and k by their positions; append k and v to this layer's
		// cache at rows pos..pos+n-1.
		k.run("rope+kv store", l, llmabi.RoPEKV(q, kk, vv, s.invFreq.Span(), kc, vc, e.kv, n, pos, heads, kvHeads, hd))
		// Causal grouped-query attention over cache rows 0..pos+n-1.
		k.run("attention", l, llmabi.Attention(q, kc, vc, att, e.kv, n, pos, heads, kvHeads, hd))
		// Output projection and the residual: x += att·Woᵀ (xb is scratch).
		k.run("o+residual", l, llmabi.LinearAdd(L.O, att, xb, x, n))
		// MLP: xb = rmsnorm(x)·mlpNorm, hb = silu(xb·Wgateᵀ)·(xb·Wupᵀ)
		// (hb2 is scratch).
		k.run("mlp norm+gate/up", l, llmabi.NormGLU(L.MLPNorm, L.Gate, L.Up, x, xb, hb2, hb, n, eps))
		// Down projection and the residual: x += hb·Wdownᵀ (xb is scratch).
		k.run("down+residual", l, llmabi.LinearAdd(L.Down, hb, xb, x, n))
	}
	if !head {
		return k.err
	}
	// Final norm and lm_head, for the last row only unless every row's
	// logits are wanted: logits = rmsnorm(x)·finalNorm·Wlmᵀ.
	rows, rowsB := x, xb
	if !all {
		rows, rowsB, n = e.row(s.x, n-1, 1, dim), e.row(s.xb, n-1, 1, dim), 1
	}
	logits := []device.Span{e.row(s.logits, 0, n, c.VocabSize)}
	k.run("final norm+lm_head", -1, llmabi.NormLinear(ids.FinalNorm, e.lmHead, rows, rowsB, logits, n, eps))
	return k.err
}

// latch runs kernel calls until one fails, then skips the rest and keeps
// the first error, named by its step and layer: it keeps forward free of
// error plumbing without running ops after a failure.
type latch struct {
	k   Kernels
	c   llmabi.Call // the call being run: Run gets a pointer to it, not to a new one per call
	err error
}

// run runs c, the step's call, unless an earlier step failed.
func (l *latch) run(step string, layer int, c llmabi.Call) {
	if l.err != nil {
		return
	}
	l.c = c
	if err := l.k.Run(&l.c); err != nil {
		if layer >= 0 {
			l.err = fmt.Errorf("layer %d %s: %w", layer, step, err)
		} else {
			l.err = fmt.Errorf("%s: %w", step, err)
		}
	}
}
