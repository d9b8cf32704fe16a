// Package conformance is the one test suite of the Llama kernels that every
// backend runs: cpu here, cuda and metal from their own tests, which skip
// without a device. Run holds a backend, in each of its memory modes, to
//
//   - the float64 definition of every basic op (internal/llmref), over
//     weight dtypes, odd shapes and the widths where kernels switch paths;
//   - the definition of every fused op (runtime/device/internal/compose,
//     on the same backend);
//   - hostile calls made from the op table: each operand moved out of
//     memory, misaligned, cut short or laid over another, each scalar and
//     weight id out of range; every one must fail with an error naming the
//     op and the argument, and launch nothing;
//   - the Tiny engine against Hugging Face's logits (models/reference);
//   - the engine's token step run as a program against the same steps
//     op by op, bit for bit (the device's llmabi.ProgramRunner, if it has
//     one).
//
// A backend's test file is one call, e.g. for cuda:
//
//	func TestConformance(t *testing.T) {
//		d := gpu(t) // skips without a GPU
//		conformance.Run(t, conformance.Backend{Device: d, Modes: d.Modes(), Tol: …})
//	}
//
// Adding an op to the table means adding its valid call to validCalls
// (hostile.go) and its check to ops.go or fused.go: a test fails until then.
package conformance

import (
	"testing"

	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Backend is the device under test.
type Backend struct {
	Device device.LLMDevice
	// Modes are the memory modes to run in (Device.Modes(), or fewer).
	Modes []device.Mode
	// FusedExact says the fused ops give their definitions' results bit
	// for bit (cpu by design, metal because its fused ops are the
	// definitions); otherwise they are held to Tol.Fused.
	FusedExact bool
	// RefusesForeignWeights says ops fail on weights another device loaded
	// (a GPU backend must; the cpu reads any Weights' host bytes).
	RefusesForeignWeights bool
	// Tol loosens the default tolerances (zero fields keep them).
	Tol Tolerances
}

// Tolerances bound a backend's float32 results against float64.
type Tolerances struct {
	// Elementwise bounds rmsnorm, rope and swiglu per element, relative to
	// the largest reference value of the row (default 1e-6).
	Elementwise float64
	// Linear bounds each output of linear relative to Σ|w·x| of its dot
	// product (default 1e-5).
	Linear float64
	// Attention bounds each output absolutely; outputs are convex
	// combinations of values in [-1, 1] (default 1e-5).
	Attention float64
	// Fused bounds ‖fused − definition‖ / ‖definition‖ per output when
	// FusedExact is false (default 1e-5).
	Fused float64
	// Prefill bounds linear at n > 1 as Linear does at n = 1 (default
	// Linear): a backend whose prefill GEMMs round the activations to bf16
	// once is within 2⁻⁸·Σ|w·x| of float64, every product's error at most
	// 2⁻⁹ of its size (and float32 accumulation far below that).
	Prefill float64
	// EngineF32KV bounds the Tiny engine's logits with an f32 KV cache
	// against Hugging Face's (default reference.TolF32KV). A backend whose
	// prefill rounds activations to bf16 is held to the bf16 cache's
	// tolerance instead: both round values to 8 significant bits.
	EngineF32KV float64
}

func (t Tolerances) withDefaults() Tolerances {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.Elementwise, 1e-6)
	def(&t.Linear, 1e-5)
	def(&t.Attention, 1e-5)
	def(&t.Fused, 1e-5)
	def(&t.Prefill, t.Linear)
	def(&t.EngineF32KV, reference.TolF32KV)
	return t
}

// check is one check of the suite, run in each memory mode.
type check struct {
	name string
	run  func(t *testing.T, b Backend, mode device.Mode)
}

// inModes runs the checks as subtests of each of b's modes.
func inModes(t *testing.T, b Backend, checks []check) {
	b.Tol = b.Tol.withDefaults()
	for _, mode := range b.Modes {
		t.Run(string(mode), func(t *testing.T) {
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) { c.run(t, b, mode) })
			}
		})
	}
}

// byWeightDType makes one check per weight dtype of f.
func byWeightDType(f func(t *testing.T, b Backend, mode device.Mode, dt string)) []check {
	var cs []check
	for _, dt := range []string{"BF16", "F16", "F32"} {
		cs = append(cs, check{dt, func(t *testing.T, b Backend, mode device.Mode) { f(t, b, mode, dt) }})
	}
	return cs
}

// Run runs the whole suite on b.
func Run(t *testing.T, b Backend) {
	b.Tol = b.Tol.withDefaults()
	t.Run("ops", func(t *testing.T) { Ops(t, b) })
	t.Run("fused", func(t *testing.T) { Fused(t, b) })
	t.Run("hostile", func(t *testing.T) { Hostile(t, b) })
	t.Run("tiny", func(t *testing.T) { Tiny(t, b) })
	t.Run("program", func(t *testing.T) { Program(t, b) })
}
