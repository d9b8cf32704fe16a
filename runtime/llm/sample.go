package llm

import (
	"math"
	"slices"
)

// nonFinite is the token a pick returns for logits that hold NaN or an
// infinity: Argmax's answer for such a row (device.LLMOps), and sample's.
const nonFinite = -1

// sample draws a token from softmax(logits/temperature), restricted to the
// top-p nucleus when 0 < topP < 1, as llama2.c's sample_topp: candidates
// below (1-topP)/(n-1) cannot be in the nucleus and are dropped before the
// sort. Probabilities are float64. Logits that hold NaN or an infinity give
// nonFinite.
func (e *Engine) sample(logits []float32) int32 {
	n := len(logits)
	m := float32(math.Inf(-1))
	for _, v := range logits {
		if !(v >= -math.MaxFloat32 && v <= math.MaxFloat32) {
			return nonFinite
		}
		m = max(m, v)
	}
	probs := make([]float64, n)
	var sum float64
	for i, v := range logits {
		p := math.Exp(float64(v-m) / float64(e.temperature))
		probs[i] = p
		sum += p
	}
	r := e.rng.Float64()
	if !(e.topP > 0 && e.topP < 1) || n == 1 {
		target, cum := r*sum, 0.0
		for i, p := range probs {
			cum += p
			if target < cum {
				return int32(i)
			}
		}
		return int32(n - 1)
	}
	type cand struct {
		id int32
		p  float64
	}
	cutoff := (1 - float64(e.topP)) / float64(n-1) * sum
	var cs []cand
	for i, p := range probs {
		if p >= cutoff {
			cs = append(cs, cand{int32(i), p})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.p > b.p:
			return -1
		case a.p < b.p:
			return 1
		}
		return int(a.id - b.id)
	})
	last, cum := len(cs)-1, 0.0
	for i, c := range cs {
		cum += c.p
		if cum > float64(e.topP)*sum {
			last = i
			break
		}
	}
	target, acc := r*cum, 0.0
	for _, c := range cs[:last+1] {
		acc += c.p
		if target < acc {
			return c.id
		}
	}
	return cs[last].id
}
