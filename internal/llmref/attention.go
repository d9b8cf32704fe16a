// Package llmref holds float64 reference computations of a Llama layer's
// parts, written without the engine or its kernels, for tests to hold the
// kernels against.
package llmref

import "math"

// Attention returns grouped-query attention in float64 for one query
// position: for each of heads heads of headDim elements in q, softmax over
// its scaled dot products with keys[j] (j < len(keys)), then the weighted sum
// of values[j]. keys[j] and values[j] hold kvHeads heads; query head h reads
// kv head h/(heads/kvHeads).
func Attention(q []float64, keys, values [][]float64, heads, kvHeads, headDim int) []float64 {
	out := make([]float64, heads*headDim)
	for h := range heads {
		kh := h / (heads / kvHeads)
		s := make([]float64, len(keys))
		m := math.Inf(-1)
		for j := range s {
			for i := range headDim {
				s[j] += q[h*headDim+i] * keys[j][kh*headDim+i]
			}
			s[j] /= math.Sqrt(float64(headDim))
			m = max(m, s[j])
		}
		var sum float64
		for j := range s {
			s[j] = math.Exp(s[j] - m)
			sum += s[j]
		}
		for j := range s {
			for i := range headDim {
				out[h*headDim+i] += s[j] / sum * values[j][kh*headDim+i]
			}
		}
	}
	return out
}
