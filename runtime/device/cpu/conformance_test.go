package cpu_test

import (
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// TestConformance runs the backends' conformance suite. The fused ops
// compute their definitions' very expressions over the same chunks of
// rows, so they match them bit for bit.
func TestConformance(t *testing.T) {
	d, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Backend{Device: d, Modes: d.Modes(), FusedExact: true})
}
