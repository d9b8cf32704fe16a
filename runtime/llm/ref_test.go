package llm

import (
	"math"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/models"
)

// refForward is a naive float64 Llama forward over the whole sequence, from
// the weights' values, written without the engine or the kernels: the
// in-repo reference. It returns logits [len(tokens)][vocab].
func refForward(t testing.TB, w *models.Weights, tokens []int32) [][]float64 {
	t.Helper()
	c := w.Config
	f := func(x models.Tensor) []float64 {
		v, err := x.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		o := make([]float64, len(v))
		for i := range v {
			o[i] = float64(v[i])
		}
		return o
	}
	dim, hd, H, KV := c.HiddenSize, c.HeadDim, c.NumAttentionHeads, c.NumKeyValueHeads
	n := len(tokens)
	emb := f(w.Embed)
	inv := InvFreq(c)
	rms := func(x, wt []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(len(x))+c.RMSNormEps)
		o := make([]float64, len(x))
		for i := range x {
			o[i] = x[i] * r * wt[i]
		}
		return o
	}
	lin := func(x, W []float64, out int) []float64 {
		in := len(x)
		o := make([]float64, out)
		for r := range out {
			for i := range in {
				o[r] += W[r*in+i] * x[i]
			}
		}
		return o
	}
	rope := func(x []float64, heads, p int) {
		half := hd / 2
		for h := range heads {
			v := x[h*hd : (h+1)*hd]
			for i := range half {
				a := float64(p) * float64(inv[i])
				x0, x1 := v[i], v[i+half]
				v[i] = x0*math.Cos(a) - x1*math.Sin(a)
				v[i+half] = x1*math.Cos(a) + x0*math.Sin(a)
			}
		}
	}
	xs := make([][]float64, n)
	for i, tok := range tokens {
		xs[i] = append([]float64(nil), emb[int(tok)*dim:(int(tok)+1)*dim]...)
	}
	for _, L := range w.Layers {
		an, wq, wk, wv, wo := f(L.AttnNorm), f(L.Q), f(L.K), f(L.V), f(L.O)
		mn, wg, wu, wd := f(L.MLPNorm), f(L.Gate), f(L.Up), f(L.Down)
		qs, ks, vs := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for p := range n {
			xb := rms(xs[p], an)
			qs[p], ks[p], vs[p] = lin(xb, wq, H*hd), lin(xb, wk, KV*hd), lin(xb, wv, KV*hd)
			rope(qs[p], H, p)
			rope(ks[p], KV, p)
		}
		for p := range n {
			att := llmref.Attention(qs[p], ks[:p+1], vs[:p+1], H, KV, hd)
			o := lin(att, wo, dim)
			for i := range o {
				xs[p][i] += o[i]
			}
			xb := rms(xs[p], mn)
			g, u := lin(xb, wg, c.IntermediateSize), lin(xb, wu, c.IntermediateSize)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := lin(g, wd, dim)
			for i := range d {
				xs[p][i] += d[i]
			}
		}
	}
	fn, head := f(w.FinalNorm), f(w.LMHead)
	out := make([][]float64, n)
	for p := range n {
		out[p] = lin(rms(xs[p], fn), head, c.VocabSize)
	}
	return out
}
