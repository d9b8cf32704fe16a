package llm

import "fmt"

// forward runs the model over n tokens (already in the state's token ids)
// at positions pos..pos+n-1, appending their keys and values to the cache,
// and writes logits for the last token (row 0) or, with all, every token.
func (e *Engine) forward(n, pos int, all bool) error {
	c, s, ids := e.cfg, &e.s, e.ids
	dim, hd := c.HiddenSize, c.HeadDim
	heads, kvHeads, kvd := c.NumAttentionHeads, c.NumKeyValueHeads, e.layout.Width
	eps := float32(c.RMSNormEps)
	k := latch{k: e.k}
	// This pass's rows of each activation buffer.
	x, xb := e.row(s.x, 0, n, dim), e.row(s.xb, 0, n, dim)
	q, att := e.row(s.q, 0, n, heads*hd), e.row(s.att, 0, n, heads*hd)
	kk, vv := e.row(s.k, 0, n, kvd), e.row(s.v, 0, n, kvd)
	hb, hb2 := e.row(s.hb, 0, n, c.IntermediateSize), e.row(s.hb2, 0, n, c.IntermediateSize)
	tokens := Buf{Off: e.state.Off + e.layout.Tokens + uint32(4*pos), Len: uint32(4 * n)}

	// Embed: x = rows of the embedding table for the tokens.
	k.step("embed", -1).Embed(ids.Embed, tokens, x, n)
	for l, L := range ids.Layers {
		kc := Buf{Off: e.state.Off + e.layout.K[l], Len: e.layout.LayerBytes}
		vc := Buf{Off: e.state.Off + e.layout.V[l], Len: e.layout.LayerBytes}
		// Attention block input and projections: xb = rmsnorm(x)·attnNorm,
		// then q, k, v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ.
		k.step("attn norm+qkv", l).NormLinear(L.AttnNorm, e.qkv[l], x, xb, []Buf{q, kk, vv}, n, eps)
		// Rotate q and k by their positions; append k and v to this layer's
		// cache at rows pos..pos+n-1.
		k.step("rope+kv store", l).RoPEKV(q, kk, vv, s.invFreq, kc, vc, e.kv, n, pos, heads, kvHeads, hd)
		// Causal grouped-query attention over cache rows 0..pos+n-1.
		k.step("attention", l).Attention(q, kc, vc, att, e.kv, n, pos, heads, kvHeads, hd)
		// Output projection and the residual: x += att·Woᵀ (xb is scratch).
		k.step("o+residual", l).LinearAdd(L.O, att, xb, x, n)
		// MLP: xb = rmsnorm(x)·mlpNorm, hb = silu(xb·Wgateᵀ)·(xb·Wupᵀ)
		// (hb2 is scratch).
		k.step("mlp norm+gate/up", l).NormGLU(L.MLPNorm, L.Gate, L.Up, x, xb, hb2, hb, n, eps)
		// Down projection and the residual: x += hb·Wdownᵀ (xb is scratch).
		k.step("down+residual", l).LinearAdd(L.Down, hb, xb, x, n)
	}
	// Final norm and lm_head, for the last row only unless every row's
	// logits are wanted: logits = rmsnorm(x)·finalNorm·Wlmᵀ.
	rows, rowsB := x, xb
	if !all {
		rows, rowsB, n = e.row(s.x, n-1, 1, dim), e.row(s.xb, n-1, 1, dim), 1
	}
	k.step("final norm+lm_head", -1).NormLinear(ids.FinalNorm, e.lmHead, rows, rowsB, []Buf{e.row(s.logits, 0, n, c.VocabSize)}, n, eps)
	return k.err
}

// latch calls Kernels until one fails, then skips the rest and keeps the
// first error, named by its step and layer: it keeps forward free of error
// plumbing without running ops after a failure.
type latch struct {
	k     Kernels
	err   error
	name  string
	layer int
}

// step names the next call.
func (l *latch) step(name string, layer int) *latch {
	l.name, l.layer = name, layer
	return l
}

func (l *latch) do(err error) {
	if err != nil && l.err == nil {
		if l.layer >= 0 {
			l.err = fmt.Errorf("layer %d %s: %w", l.layer, l.name, err)
		} else {
			l.err = fmt.Errorf("%s: %w", l.name, err)
		}
	}
}

func (l *latch) Embed(table int, tokens, out Buf, n int) {
	if l.err == nil {
		l.do(l.k.Embed(table, tokens, out, n))
	}
}

func (l *latch) NormLinear(norm int, weights []int, x, xb Buf, outs []Buf, n int, eps float32) {
	if l.err == nil {
		l.do(l.k.NormLinear(norm, weights, x, xb, outs, n, eps))
	}
}

func (l *latch) NormGLU(norm, gate, up int, x, xb, tmp, out Buf, n int, eps float32) {
	if l.err == nil {
		l.do(l.k.NormGLU(norm, gate, up, x, xb, tmp, out, n, eps))
	}
}

func (l *latch) LinearAdd(weight int, x, tmp, resid Buf, n int) {
	if l.err == nil {
		l.do(l.k.LinearAdd(weight, x, tmp, resid, n))
	}
}

func (l *latch) RoPEKV(q, k, v, invFreq, kCache, vCache Buf, dt kvType, n, pos, heads, kvHeads, headDim int) {
	if l.err == nil {
		l.do(l.k.RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim))
	}
}

func (l *latch) Attention(q, kc, vc, out Buf, dt kvType, n, pos, heads, kvHeads, headDim int) {
	if l.err == nil {
		l.do(l.k.Attention(q, kc, vc, out, dt, n, pos, heads, kvHeads, headDim))
	}
}
