package llm_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// The engine natively on every backend is held to Hugging Face by the
// backends' conformance suite (runtime/device/internal/conformance); here
// are the reference forward pass and the engine inside the Wasm guest.

func tinyFixture(t *testing.T) *reference.Fixture {
	t.Helper()
	f, err := reference.Tiny()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReferenceMatchesHuggingFace holds the float64 reference forward pass
// (reference.go) to transformers' float64 logits of the same bf16 weights,
// and our RoPE frequencies to HF's bit for bit.
func TestReferenceMatchesHuggingFace(t *testing.T) {
	f := tinyFixture(t)
	for i, v := range llm.InvFreq(f.Weights.Config) {
		if f.InvFreq[i] != v {
			t.Errorf("inv_freq[%d] = %g, Hugging Face %g", i, v, f.InvFreq[i])
		}
	}
	got, err := llm.Reference(f.Weights, f.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	var diff, scale float64
	for p, row := range got {
		for i, v := range row {
			diff = max(diff, math.Abs(v-float64(f.Logits[p][i])))
			scale = max(scale, math.Abs(v))
		}
	}
	// HF's logits are float64 rounded to float32 in the fixture: 2^-24
	// relative, so both agree to float32 precision.
	t.Logf("max |Δlogit| %.3g of max |logit| %.3g", diff, scale)
	if !(diff <= 1e-6*scale) {
		t.Errorf("reference forward: max |Δlogit| %g exceeds 1e-6·%g", diff, scale)
	}
}

// TestGuestMatchesHuggingFace runs the engine inside the Wasm guest on the
// cpu device over the fixture: a prefill with every row's logits, then
// decode steps. Token by token with an f32 cache the engine is float32
// throughout (reference.TolF32KV); a 12-token prefill rounds its GEMMs'
// activations to bf16 as a bf16 cache rounds its keys and values, both to 8
// significant bits (reference.TolBF16KV).
func TestGuestMatchesHuggingFace(t *testing.T) {
	f := tinyFixture(t)
	d, _ := cpu.Open()
	dw, err := d.LoadWeights(llm.WeightTensors(f.Weights))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 32 << 20, CacheDir: filepath.Join(os.TempDir(), "wasmgpu-test-cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, kv := range []struct {
		dt      device.KVDType
		prefill int
		tol     float64
	}{{device.KVF32, 1, reference.TolF32KV}, {device.KVF32, 12, reference.TolBF16KV}, {device.KVBF16, 12, reference.TolBF16KV}} {
		g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close(ctx)
		g.Weights = dw
		if err := g.LLMInit(ctx, f.Weights.Config, kv.dt, 64, 12); err != nil {
			t.Fatal(err)
		}
		e, err := f.Check(func(tokens []int32, all bool) ([]float32, error) { return g.LLMForward(ctx, tokens, all) }, kv.prefill)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wasm kv %s, prefill %d: max |Δlogit| %.3g, relative %.3g (tolerance %g)", kv.dt, kv.prefill, e.MaxAbsDiff, e.Rel(), kv.tol)
		if !(e.Rel() <= kv.tol) || e.ArgmaxAgree != e.Positions {
			t.Errorf("wasm kv %s, prefill %d: relative error %g (tolerance %g), argmax agrees at %d of %d positions", kv.dt, kv.prefill, e.Rel(), kv.tol, e.ArgmaxAgree, e.Positions)
		}
	}
}
