package cpu

import "github.com/wasmgpu/wasmgpu/runtime/device"

// The fused ops run as their defining sequences of basic ops. On a cpu the
// ops are bound by reading the weights, not by dispatch, so fusing would
// save only the scratch traffic; the sequences also keep the cpu results
// identical to the basic ops', which the committed reference logits check.

// NormLinear is device.ComposeNormLinear.
func (m *Memory) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	return device.ComposeNormLinear(m, m.size, w, norm, weights, x, xb, outs, n, eps)
}

// NormGLU is device.ComposeNormGLU.
func (m *Memory) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	return device.ComposeNormGLU(m, m.size, w, norm, gate, up, x, xb, tmp, out, n, eps)
}

// LinearAdd is device.ComposeLinearAdd.
func (m *Memory) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	return device.ComposeLinearAdd(m, m.size, w, weight, x, tmp, resid, n)
}

// RoPEKV is device.ComposeRoPEKV.
func (m *Memory) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return device.ComposeRoPEKV(m, m.size, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
}
