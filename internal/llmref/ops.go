// Package llmref holds float64 reference computations of the Llama ops,
// written plainly, without the engine or any kernel: the definitions the
// backends' kernels are held to (runtime/device/internal/conformance) and
// the reference forward pass is built from (runtime/llm/reference.go).
// Vectors are float64 slices, matrices row-major.
package llmref

import "math"

// RMSNorm returns x·w / sqrt(mean(x²) + eps).
func RMSNorm(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] * r * w[i]
	}
	return out
}

// Linear returns W·x for W of rows rows and len(x) columns: a projection
// in Hugging Face's layout ([out, in]).
func Linear(x, w []float64, rows int) []float64 {
	in := len(x)
	out := make([]float64, rows)
	for r := range rows {
		var s float64
		for i, v := range x {
			s += w[r*in+i] * v
		}
		out[r] = s
	}
	return out
}

// RoPE rotates x (heads heads of headDim) in place for position pos, with
// Hugging Face's rotate-half pairing (i, i+headDim/2). The angle of pair i
// is pos·invFreq[i] computed in float32, as transformers computes it, and
// its cosine and sine in float64.
func RoPE(x []float64, heads, headDim, pos int, invFreq []float32) {
	half := headDim / 2
	for i := range half {
		a := float64(float32(pos) * invFreq[i])
		c, s := math.Cos(a), math.Sin(a)
		for h := range heads {
			v := x[h*headDim : (h+1)*headDim]
			x0, x1 := v[i], v[i+half]
			v[i] = x0*c - x1*s
			v[i+half] = x1*c + x0*s
		}
	}
}

// SwiGLU returns silu(gate)·up elementwise: gate·σ(gate)·up.
func SwiGLU(gate, up []float64) []float64 {
	out := make([]float64, len(gate))
	for i, g := range gate {
		out[i] = g / (1 + math.Exp(-g)) * up[i]
	}
	return out
}

// Argmax returns the index of x's largest value, the first on ties, or -1
// when x holds NaN or ±Inf: the contract of device.LLMOps.Argmax.
func Argmax(x []float32) int {
	best, idx := float32(math.Inf(-1)), 0
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return -1
		}
		if v > best {
			best, idx = v, i
		}
	}
	return idx
}

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

// Rows returns v as float64 rows of width: a KV cache's stored values,
// decoded to float32, as keys or values for Attention.
func Rows(v []float32, width int) [][]float64 {
	rows := make([][]float64, len(v)/width)
	for j := range rows {
		rows[j] = Widen(v[j*width : (j+1)*width])
	}
	return rows
}

// Widen returns v as float64s.
func Widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
