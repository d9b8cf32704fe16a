package conformance

import (
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/models/reference"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// Tiny runs the engine (runtime/llm, natively) on the backend over the
// Hugging Face fixture (models/reference): a 12-token prefill with every
// row's logits, then decode steps, with f32 and bf16 KV caches, in every
// mode; the logits within the reference tolerances and HF's argmax at every
// position.
func Tiny(t *testing.T, b Backend) {
	f, err := reference.Tiny()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Weights.Close()
	w, err := b.Device.LoadWeights(llm.WeightTensors(f.Weights))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Token by token with an f32 cache every projection is a GEMV on float32
	// activations (reference.TolF32KV on every backend); a 12-token prefill
	// is held to the backend's EngineF32KV.
	for _, kv := range []struct {
		dt      device.KVDType
		prefill int
		tol     float64
	}{{device.KVF32, 1, reference.TolF32KV}, {device.KVF32, 12, b.Tol.EngineF32KV}, {device.KVBF16, 12, reference.TolBF16KV}} {
		for _, mode := range b.Modes {
			if mode == device.Resident {
				continue // the engine writes its memory from the host, which a resident mirror does not see
			}
			mem, err := b.Device.NewMemory(mode, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			e, err := llm.NewNative(f.Weights.Config, mem, w, llm.Options{KV: kv.dt, MaxSeq: 64, MaxBatch: 12})
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.Check(func(tokens []int32, all bool) ([]float32, error) {
				if err := e.Forward(tokens, all); err != nil { // Forward ends with a Sync
					return nil, err
				}
				return slices.Clone(e.Logits()), nil // a view: the next pass overwrites it
			}, kv.prefill)
			if err := mem.Close(); err != nil {
				t.Error(err)
			}
			if err != nil {
				t.Fatalf("kv %s %s prefill %d: %v", kv.dt, mode, kv.prefill, err)
			}
			t.Logf("kv %s %s prefill %d: max |Δlogit| %.3g, max |logit| %.3g, relative %.3g (tolerance %g)", kv.dt, mode, kv.prefill, res.MaxAbsDiff, res.MaxAbsLogit, res.Rel(), kv.tol)
			if !(res.Rel() <= kv.tol) || res.ArgmaxAgree != res.Positions {
				t.Errorf("kv %s %s prefill %d: relative error %.3g (tolerance %g); argmax agrees at %d of %d positions", kv.dt, mode, kv.prefill, res.Rel(), kv.tol, res.ArgmaxAgree, res.Positions)
			}
		}
	}
}
