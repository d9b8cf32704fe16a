//go:build darwin

package metal

import (
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/compose"
)

// The fused ops run as their defining sequences of basic ops: each basic op
// is already one dispatch in a command buffer, and this backend has not
// run on hardware (README.md), so it gains no new, untried kernels here.

// NormLinear is compose.NormLinear.
func (m *Memory) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	return compose.NormLinear(m, m.size, w, norm, weights, x, xb, outs, n, eps)
}

// NormGLU is compose.NormGLU.
func (m *Memory) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	return compose.NormGLU(m, m.size, w, norm, gate, up, x, xb, tmp, out, n, eps)
}

// LinearAdd is compose.LinearAdd.
func (m *Memory) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	return compose.LinearAdd(m, m.size, w, weight, x, tmp, resid, n)
}

// RoPEKV is compose.RoPEKV.
func (m *Memory) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return compose.RoPEKV(m, m.size, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
}
