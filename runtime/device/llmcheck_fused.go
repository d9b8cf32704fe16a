package device

import "fmt"

// Validation of the fused ops: each step of the defining sequence is checked
// as the basic op would check it (so the shapes and bounds rules are the
// same), and then every span of the op must be disjoint from every other,
// because a fused kernel reads its inputs while it writes its outputs.

// CheckNormLinear validates NormLinear and returns the projection tensors.
func CheckNormLinear(size uint64, w Weights, norm int, weights []int, x, xb Span, outs []Span, n int, eps float32) ([]WeightTensor, error) {
	const op = "norm_linear"
	if len(weights) < 1 || len(weights) > NormLinearMax || len(outs) != len(weights) {
		return nil, fmt.Errorf("%s: %d weights and %d outputs, want 1 to %d of each", op, len(weights), len(outs), NormLinearMax)
	}
	if _, err := CheckRMSNorm(size, w, norm, x, xb, n, eps); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ts := make([]WeightTensor, len(weights))
	spans := []Span{x, xb}
	for i, id := range weights {
		t, err := CheckLinear(size, w, id, xb, outs[i], n)
		if err != nil {
			return nil, fmt.Errorf("%s: projection %d: %w", op, i, err)
		}
		ts[i] = t
		spans = append(spans, outs[i])
	}
	return ts, allDisjoint(op, normLinearNames[:len(spans)], spans)
}

// normLinearNames name NormLinear's spans in errors, in allDisjoint's order.
var normLinearNames = [2 + NormLinearMax]string{"x", "xb", "outs[0]", "outs[1]", "outs[2]"}

// CheckNormGLU validates NormGLU and returns the gate and up tensors, which
// must have the same shape and dtype.
func CheckNormGLU(size uint64, w Weights, norm, gate, up int, x, xb, tmp, out Span, n int, eps float32) (g, u WeightTensor, err error) {
	const op = "norm_glu"
	if _, err := CheckRMSNorm(size, w, norm, x, xb, n, eps); err != nil {
		return g, u, fmt.Errorf("%s: %w", op, err)
	}
	if g, err = CheckLinear(size, w, gate, xb, out, n); err != nil {
		return g, u, fmt.Errorf("%s: gate: %w", op, err)
	}
	if u, err = CheckLinear(size, w, up, xb, tmp, n); err != nil {
		return g, u, fmt.Errorf("%s: up: %w", op, err)
	}
	if g.DType != u.DType || g.Shape[0] != u.Shape[0] || g.Shape[1] != u.Shape[1] {
		return g, u, fmt.Errorf("%s: gate %s %v and up %s %v differ", op, g.DType, g.Shape, u.DType, u.Shape)
	}
	return g, u, allDisjoint(op, []string{"x", "xb", "tmp", "out"}, []Span{x, xb, tmp, out})
}

// CheckLinearAdd validates LinearAdd and returns the weight tensor.
func CheckLinearAdd(size uint64, w Weights, weight int, x, tmp, resid Span, n int) (WeightTensor, error) {
	const op = "linear_add"
	t, err := CheckLinear(size, w, weight, x, tmp, n)
	if err != nil {
		return t, fmt.Errorf("%s: %w", op, err)
	}
	if err := CheckAdd(size, resid, tmp, n*t.Shape[0]); err != nil {
		return t, fmt.Errorf("%s: %w", op, err)
	}
	return t, allDisjoint(op, []string{"x", "tmp", "resid"}, []Span{x, tmp, resid})
}

// CheckRoPEKV validates RoPEKV.
func CheckRoPEKV(size uint64, q, k, v, invFreq, kCache, vCache Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error {
	const op = "rope_kv"
	if err := CheckRoPE(size, q, invFreq, n, heads, headDim, pos); err != nil {
		return fmt.Errorf("%s: q: %w", op, err)
	}
	if err := CheckRoPE(size, k, invFreq, n, kvHeads, headDim, pos); err != nil {
		return fmt.Errorf("%s: k: %w", op, err)
	}
	width := kvHeads * headDim // both checked < 2^31 and k's span exists, so no overflow
	if _, err := CheckKVStore(size, k, kCache, dt, n, pos, width); err != nil {
		return fmt.Errorf("%s: k: %w", op, err)
	}
	if _, err := CheckKVStore(size, v, vCache, dt, n, pos, width); err != nil {
		return fmt.Errorf("%s: v: %w", op, err)
	}
	return allDisjoint(op, []string{"q", "k", "v", "invFreq", "kCache", "vCache"}, []Span{q, k, v, invFreq, kCache, vCache})
}

// allDisjoint fails if any two of the spans overlap.
func allDisjoint(op string, names []string, spans []Span) error {
	for i := range spans {
		for j := range i {
			if spans[i].Overlaps(spans[j]) {
				a, b := spans[i], spans[j]
				return fmt.Errorf("%s: %s [%d, +%d) overlaps %s [%d, +%d)", op, names[i], a.Off, a.Len, names[j], b.Off, b.Len)
			}
		}
	}
	return nil
}
