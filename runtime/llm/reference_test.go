package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// The fixture: Tiny synthetic bf16 weights (seed 1), 20 prompt ids, and the
// logits Hugging Face transformers computed for them in float64
// (models/reference/hf_logits.py, run on the device machine).
const fixture = "../../models/reference/testdata/tiny"

// Tolerances, relative to max|logit|. The weights are bf16, exact in both
// implementations, so the differences are our float32 arithmetic (float32
// accumulation over at most a few hundred terms: ~1e-7; 3.6e-6 measured at
// full Llama 3.2 1B size) and two roundings to bfloat16's 8 significant bits
// (2⁻⁸ relative per value): of every key and value in a bf16 KV cache, and of
// the activations the cpu device's prefill GEMM multiplies (internal/simd,
// GemmBF16), as llama.cpp does with bf16 weights. Decoding one token at a
// time with an f32 cache avoids both (tolFloat32); a prefill of several
// tokens has the GEMM's rounding, and a bf16 cache the cache's
// (tolBF16: measured here 1.1e-3 for the prefill alone, 1.5e-3 with a bf16
// cache; 6.5e-4 for the cache alone before the prefill rounded). The bounds
// leave room above the measurements.
const (
	tolFloat32 = 1e-5
	tolBF16    = 1e-2
)

func loadFixture(t *testing.T) (*models.Weights, []int32, [][]float32) {
	t.Helper()
	w, err := models.LoadDir(fixture)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	b, err := os.ReadFile(filepath.Join(fixture, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var toks []int32
	if err := json.Unmarshal(b, &toks); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(fixture, "hf_logits.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lt, _ := f.Tensor("logits")
	flat, err := lt.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	vocab := w.Config.VocabSize
	if len(lt.Shape) != 2 || lt.Shape[0] != len(toks) || lt.Shape[1] != vocab {
		t.Fatalf("reference logits have shape %v, want [%d %d]", lt.Shape, len(toks), vocab)
	}
	ref := make([][]float32, len(toks))
	for p := range ref {
		ref[p] = flat[p*vocab : (p+1)*vocab]
	}
	it, _ := f.Tensor("inv_freq")
	hfInv, _ := it.Float32s()
	for i, v := range llm.InvFreq(w.Config) {
		if hfInv[i] != v {
			t.Errorf("inv_freq[%d] = %g, Hugging Face %g", i, v, hfInv[i])
		}
	}
	return w, toks, ref
}

// forwardFunc runs tokens through an engine, returning every row's logits
// (all) or the last row's.
type forwardFunc func(tokens []int32, all bool) ([]float32, error)

// checkAgainstHF prefills k tokens with all logits, decodes the rest one at
// a time, and holds every position to the tolerance and to HF's argmax.
func checkAgainstHF(t *testing.T, name string, run forwardFunc, toks []int32, ref [][]float32, k int, tol float64) {
	t.Helper()
	vocab := len(ref[0])
	got, err := run(toks[:k], true)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var rows [][]float32
	for r := range k {
		rows = append(rows, got[r*vocab:(r+1)*vocab])
	}
	for p := k; p < len(toks); p++ {
		row, err := run(toks[p:p+1], false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows = append(rows, row)
	}
	var diff, scale float64
	for p, row := range rows {
		a, b := 0, 0
		for i, v := range row {
			diff = max(diff, math.Abs(float64(v)-float64(ref[p][i])))
			scale = max(scale, math.Abs(float64(ref[p][i])))
			if v > row[a] {
				a = i
			}
			if ref[p][i] > ref[p][b] {
				b = i
			}
		}
		if a != b {
			t.Errorf("%s: position %d: argmax %d, Hugging Face %d", name, p, a, b)
		}
	}
	t.Logf("%s: max |Δlogit| %.3g, max |logit| %.3g, relative %.3g (tolerance %g)", name, diff, scale, diff/scale, tol)
	if !(diff <= tol*scale) {
		t.Errorf("%s: max |Δlogit| %g exceeds %g·%g", name, diff, tol, scale)
	}
}

func TestTinyMatchesHuggingFace(t *testing.T) {
	w, toks, ref := loadFixture(t)
	d, _ := cpu.Open()
	dw, err := d.LoadWeights(llm.WeightTensors(w))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 32 << 20, CacheDir: filepath.Join(os.TempDir(), "wasmgpu-test-cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	// Prefill 12 tokens, then decode; and with an f32 cache, decode all 20
	// one at a time, which runs no bf16 GEMM.
	for _, kv := range []struct {
		dt      device.KVDType
		prefill int
		tol     float64
	}{{device.KVF32, 1, tolFloat32}, {device.KVF32, 12, tolBF16}, {device.KVBF16, 12, tolBF16}} {
		for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
			mem, err := d.NewMemory(mode, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			e, err := llm.NewNative(w.Config, mem, dw, llm.Options{KV: kv.dt, MaxSeq: 64, MaxBatch: 12})
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstHF(t, fmt.Sprintf("native %s kv %s prefill %d", mode, kv.dt, kv.prefill), func(tokens []int32, all bool) ([]float32, error) {
				if err := e.Forward(tokens, all); err != nil {
					return nil, err
				}
				return append([]float32(nil), e.Logits()...), nil // a view: the next pass overwrites it
			}, toks, ref, kv.prefill, kv.tol)
		}
		g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(device.ZeroCopy, max) })
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close(ctx)
		g.Weights = dw
		if err := g.LLMInit(ctx, w.Config, kv.dt, 64, 12); err != nil {
			t.Fatal(err)
		}
		checkAgainstHF(t, fmt.Sprintf("wasm kv %s prefill %d", kv.dt, kv.prefill), func(tokens []int32, all bool) ([]float32, error) {
			return g.LLMForward(ctx, tokens, all)
		}, toks, ref, kv.prefill, kv.tol)
	}
}
