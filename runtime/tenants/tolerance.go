package tenants

import "math"

// LogitTolerance bounds how far the logits of a decode step run in a batch
// of several tenants may be from the same step run alone (the same
// history), relative to the step's largest logit magnitude alone: on the
// cpu device the batched projections round the activations to bfloat16
// (internal/simd's bf16 GEMM: within 2⁻⁸ of Σ|w·x| a projection, at
// worst, through every layer), where one token's GEMV keeps them in
// float32. Measured (RATIONALE.md, "Tenants: batching across sandboxes"):
// at most 3.1·10⁻³ for Tiny, 1.5·10⁻² for synthetic Llama 3.2 1B, whose
// near-uniform logits make the largest one small; the tolerance is twice
// the larger. A wrong result (another tenant's rows, a skipped call) moves
// logits by their own size.
const LogitTolerance = 3e-2

// Agrees reports whether token, the greedy pick of a step run in a batch,
// is a pick the same step could make alone within LogitTolerance: its
// logit in alone (the step's logits alone, same history) is within
// LogitTolerance·max|alone| of the largest. Where batched and alone greedy
// picks differ, the two tokens' logits were closer than the batched
// kernels' rounding (a near tie); a pick that does not agree is a wrong
// result. It is false for a token outside alone, or non-finite logits.
func Agrees(alone []float32, token int32) bool {
	if token < 0 || int(token) >= len(alone) {
		return false
	}
	best, scale := math.Inf(-1), 0.0
	for _, v := range alone {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
		best, scale = math.Max(best, f), math.Max(scale, math.Abs(f))
	}
	return float64(alone[token]) >= best-LogitTolerance*scale
}
