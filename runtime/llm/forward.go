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
		// Attention block input: xb = rmsnorm(x)·attnNorm.
		k.step("attn norm", l).RMSNorm(L.AttnNorm, x, xb, n, eps)
		// Projections: q, k, v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ.
		k.step("q", l).Linear(L.Q, xb, q, n)
		k.step("k", l).Linear(L.K, xb, kk, n)
		k.step("v", l).Linear(L.V, xb, vv, n)
		// Rotate q and k by their positions.
		k.step("rope q", l).RoPE(q, s.invFreq, n, heads, hd, pos)
		k.step("rope k", l).RoPE(kk, s.invFreq, n, kvHeads, hd, pos)
		// Append k and v to this layer's cache at rows pos..pos+n-1.
		k.step("store k", l).KVStore(kk, kc, e.kv, n, pos, kvd)
		k.step("store v", l).KVStore(vv, vc, e.kv, n, pos, kvd)
		// Causal grouped-query attention over cache rows 0..pos+n-1.
		k.step("attention", l).Attention(q, kc, vc, att, e.kv, n, pos, heads, kvHeads, hd)
		// Output projection into xb, then the residual: x += xb.
		k.step("o", l).Linear(L.O, att, xb, n)
		k.step("attn residual", l).Add(x, xb, n*dim)
		// MLP block input: xb = rmsnorm(x)·mlpNorm.
		k.step("mlp norm", l).RMSNorm(L.MLPNorm, x, xb, n, eps)
		// Gate and up projections: hb = xb·Wgateᵀ, hb2 = xb·Wupᵀ.
		k.step("gate", l).Linear(L.Gate, xb, hb, n)
		k.step("up", l).Linear(L.Up, xb, hb2, n)
		// hb = silu(hb)·hb2.
		k.step("swiglu", l).SwiGLU(hb, hb2, hb, n*c.IntermediateSize)
		// Down projection into xb, then the residual: x += xb.
		k.step("down", l).Linear(L.Down, hb, xb, n)
		k.step("mlp residual", l).Add(x, xb, n*dim)
	}
	// Final norm and lm_head, for the last row only unless every row's
	// logits are wanted.
	rows := x
	if !all {
		rows, n = e.row(s.x, n-1, 1, dim), 1
	}
	k.step("final norm", -1).RMSNorm(ids.FinalNorm, rows, rows, n, eps)
	k.step("lm_head", -1).Linear(ids.LMHead, rows, e.row(s.logits, 0, n, c.VocabSize), n)
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

func (l *latch) RMSNorm(weight int, x, out Buf, n int, eps float32) {
	if l.err == nil {
		l.do(l.k.RMSNorm(weight, x, out, n, eps))
	}
}

func (l *latch) Linear(weight int, x, out Buf, n int) {
	if l.err == nil {
		l.do(l.k.Linear(weight, x, out, n))
	}
}

func (l *latch) RoPE(x, invFreq Buf, n, heads, headDim, pos int) {
	if l.err == nil {
		l.do(l.k.RoPE(x, invFreq, n, heads, headDim, pos))
	}
}

func (l *latch) KVStore(src, cache Buf, dt kvType, n, pos, width int) {
	if l.err == nil {
		l.do(l.k.KVStore(src, cache, dt, n, pos, width))
	}
}

func (l *latch) Attention(q, kc, vc, out Buf, dt kvType, n, pos, heads, kvHeads, headDim int) {
	if l.err == nil {
		l.do(l.k.Attention(q, kc, vc, out, dt, n, pos, heads, kvHeads, headDim))
	}
}

func (l *latch) SwiGLU(gate, up, out Buf, count int) {
	if l.err == nil {
		l.do(l.k.SwiGLU(gate, up, out, count))
	}
}

func (l *latch) Add(x, y Buf, count int) {
	if l.err == nil {
		l.do(l.k.Add(x, y, count))
	}
}
