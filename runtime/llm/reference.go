package llm

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/models"
)

// The reference forward pass: the model written out plainly in float64, one
// token at a time, as llama2.c's run.c writes it — read this before
// forward.go. It is what the engine computes, without kernels, buffers in a
// device's memory, batching or fused ops; the tests hold the engine to it
// on every backend, and it is held to Hugging Face transformers in turn
// (models/reference). It is slow (every weight widened to float64 and read
// once per token) and meant for small models.
//
// The config (models.Config) says the shapes: dim (hidden size), heads
// query heads and kvHeads key/value heads of headDim each, the MLP's inter
// (intermediate size), vocab. Weights are stated once, in refWeights; the
// run state, everything that changes from token to token, in refState.

// refWeights are the model's weights widened to float64, row-major, each
// projection [out, in] as Hugging Face stores it.
type refWeights struct {
	embed     []float64 // [vocab, dim]: token embeddings
	layers    []refLayer
	finalNorm []float64 // [dim]
	lmHead    []float64 // [vocab, dim]: the embeddings again when they are tied
}

// refLayer is one transformer block's weights.
type refLayer struct {
	attnNorm []float64 // [dim]
	q        []float64 // [heads·headDim, dim]
	k, v     []float64 // [kvHeads·headDim, dim]
	o        []float64 // [dim, heads·headDim]
	mlpNorm  []float64 // [dim]
	gate, up []float64 // [inter, dim]
	down     []float64 // [dim, inter]
}

// refState is the run state: the KV cache, per layer the keys and values
// of every position so far (kvHeads·headDim each), after RoPE for keys.
type refState struct {
	keys, values [][][]float64 // [layer][position]
}

// Reference runs the model over tokens at positions 0..len(tokens)-1 and
// returns each position's logits ([len(tokens)][vocab]) in float64.
func Reference(w *models.Weights, tokens []int32) ([][]float64, error) {
	c := w.Config
	rw, err := widenWeights(w)
	if err != nil {
		return nil, fmt.Errorf("llm reference: %w", err)
	}
	invFreq := InvFreq(c) // the RoPE frequencies, llama3-scaled, as the engine and HF compute them
	s := refState{keys: make([][][]float64, len(rw.layers)), values: make([][][]float64, len(rw.layers))}
	logits := make([][]float64, len(tokens))
	for pos, tok := range tokens {
		if tok < 0 || int(tok) >= c.VocabSize {
			return nil, fmt.Errorf("llm reference: token %d at %d is outside the vocabulary of %d", tok, pos, c.VocabSize)
		}
		logits[pos] = rw.forward(c, &s, invFreq, tok, pos)
	}
	return logits, nil
}

// forward runs one token at position pos through the model, appending its
// keys and values to the cache, and returns its logits.
func (rw *refWeights) forward(c models.Config, s *refState, invFreq []float32, tok int32, pos int) []float64 {
	dim, hd := c.HiddenSize, c.HeadDim
	heads, kvHeads := c.NumAttentionHeads, c.NumKeyValueHeads
	// The residual stream starts as the token's embedding row.
	x := append([]float64(nil), rw.embed[int(tok)*dim:(int(tok)+1)*dim]...)
	for l, L := range rw.layers {
		// Attention: normalize, project to q, k and v.
		xb := llmref.RMSNorm(x, L.attnNorm, c.RMSNormEps)
		q := llmref.Linear(xb, L.q, heads*hd)
		k := llmref.Linear(xb, L.k, kvHeads*hd)
		v := llmref.Linear(xb, L.v, kvHeads*hd)
		// Rotate q and k by the position; cache k and v.
		llmref.RoPE(q, heads, hd, pos, invFreq)
		llmref.RoPE(k, kvHeads, hd, pos, invFreq)
		s.keys[l] = append(s.keys[l], k)
		s.values[l] = append(s.values[l], v)
		// Each query head attends over positions 0..pos of its KV head.
		att := llmref.Attention(q, s.keys[l], s.values[l], heads, kvHeads, hd)
		// Project back and add to the residual stream.
		for i, o := range llmref.Linear(att, L.o, dim) {
			x[i] += o
		}
		// MLP: normalize, gate·up through SiLU, project down, add.
		xb = llmref.RMSNorm(x, L.mlpNorm, c.RMSNormEps)
		h := llmref.SwiGLU(llmref.Linear(xb, L.gate, c.IntermediateSize), llmref.Linear(xb, L.up, c.IntermediateSize))
		for i, d := range llmref.Linear(h, L.down, dim) {
			x[i] += d
		}
	}
	// Final norm, then the logits over the vocabulary.
	return llmref.Linear(llmref.RMSNorm(x, rw.finalNorm, c.RMSNormEps), rw.lmHead, c.VocabSize)
}

// widenWeights decodes every tensor to float64.
func widenWeights(w *models.Weights) (*refWeights, error) {
	var err error
	f := func(t models.Tensor) []float64 {
		v, e := t.Float32s()
		if e != nil && err == nil {
			err = fmt.Errorf("tensor %s: %w", t.Name, e)
		}
		return llmref.Widen(v)
	}
	rw := &refWeights{embed: f(w.Embed), finalNorm: f(w.FinalNorm), lmHead: f(w.LMHead)}
	for _, L := range w.Layers {
		rw.layers = append(rw.layers, refLayer{
			attnNorm: f(L.AttnNorm), q: f(L.Q), k: f(L.K), v: f(L.V), o: f(L.O),
			mlpNorm: f(L.MLPNorm), gate: f(L.Gate), up: f(L.Up), down: f(L.Down),
		})
	}
	return rw, err
}
