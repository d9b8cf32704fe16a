//go:build darwin

package metal

import (
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// TestConformance runs the backends' conformance suite in both modes. The
// fused ops are their definitions here (llm_fused_darwin.go), so they match
// them bit for bit; the elementwise ops use precise:: float functions
// against the reference's float64 ones.
func TestConformance(t *testing.T) {
	b := conformance.Backend{Device: openOrSkip(t), FusedExact: true, RefusesForeignWeights: true}
	b.Modes, b.Tol.Elementwise = b.Device.Modes(), 4e-6
	conformance.Run(t, b)
}

// TestLLMLimits checks the backend's own limits beyond the contract's: a
// head wider than the attention kernel holds, and a weight dtype it lacks,
// are refused with errors.
func TestLLMLimits(t *testing.T) {
	d := openOrSkip(t)
	mem := conformance.Memory(t, d, device.ZeroCopy, 1<<20)
	q := device.Span{Off: 0, Len: 4 * 2 * 300}
	kc := device.Span{Off: q.End(), Len: 4 * 2 * 300}
	vc := device.Span{Off: kc.End(), Len: kc.Len}
	out := device.Span{Off: vc.End(), Len: q.Len}
	err := mem.(device.LLMOps).Attention(q, kc, vc, out, device.KVF32, 1, 0, 2, 2, 300)
	if err == nil || !strings.Contains(err.Error(), "above the metal kernel") {
		t.Errorf("attention with headDim 300: %v", err)
	}
	if _, err := d.LoadWeights([]device.WeightTensor{{Name: "x", DType: "F64", Shape: []int{2}, Data: make([]byte, 16)}}); err == nil {
		t.Error("LoadWeights accepted an F64 tensor")
	}
}
