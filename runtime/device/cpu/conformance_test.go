package cpu_test

import (
	"testing"

	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// TestConformance runs the backends' conformance suite. The fused ops
// compute their definitions' very expressions over the same chunks of
// rows, so they match them bit for bit. A prefill (n > 1) rounds the
// activations of its GEMMs to bf16 once (internal/simd's GemmBF16Packed):
// within 2⁻⁸·Σ|w·x| of float64, and the Tiny engine's logits with an f32
// cache are held to the bf16 cache's tolerance.
func TestConformance(t *testing.T) {
	d, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	tol := conformance.Tolerances{Prefill: 1.0 / 256, EngineF32KV: reference.TolBF16KV}
	conformance.Run(t, conformance.Backend{Device: d, Modes: d.Modes(), FusedExact: true, Tol: tol})
}
