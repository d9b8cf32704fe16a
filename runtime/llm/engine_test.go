package llm

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

// newTiny returns a native engine on the cpu device with synthetic Tiny weights.
func newTiny(t testing.TB, mode device.Mode, opt Options) (*Engine, *models.Weights) {
	t.Helper()
	w, err := models.Synthetic(models.Tiny(), 7, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	return nativeOn(t, w, mode, opt), w
}

// nativeOn returns a native engine on the cpu device over w.
func nativeOn(t testing.TB, w *models.Weights, mode device.Mode, opt Options) *Engine {
	t.Helper()
	d, _ := cpu.Open()
	mem, err := d.NewMemory(mode, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	dw, err := d.LoadWeights(WeightTensors(w))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewNative(w.Config, mem, dw, opt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func prompt(n, vocab int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((i*7919 + 13) % vocab)
	}
	return p
}

// maxErr returns max|got−want| over rows and max|want|.
func maxErr(got []float32, want [][]float64, row0, rows int) (diff, scale float64) {
	vocab := len(want[0])
	for r := range rows {
		for i, w := range want[row0+r] {
			diff = max(diff, math.Abs(float64(got[r*vocab+i])-w))
			scale = max(scale, math.Abs(w))
		}
	}
	return diff, scale
}

// TestNativeMatchesFloat64Reference prefills 8 tokens at once, then 9 more,
// then decodes 3, against a float64 forward pass: within 1e-2 of max|logit|,
// since a prefill's GEMMs round their activations to bfloat16 (2⁻⁸ relative
// per value) and so does a bf16 or f16 cache.
func TestNativeMatchesFloat64Reference(t *testing.T) {
	for _, kv := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
		for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
			e, w := newTiny(t, mode, Options{KV: kv, MaxSeq: 64, MaxBatch: 8})
			toks := prompt(20, w.Config.VocabSize)
			ref, err := Reference(w, toks)
			if err != nil {
				t.Fatal(err)
			}
			// Prefill the first 8 in one pass with every row's logits.
			if err := e.Forward(toks[:8], true); err != nil {
				t.Fatal(err)
			}
			d, s := maxErr(e.Logits(), ref, 0, 8)
			// Then a chunked prefill and single-token decodes.
			if err := e.Forward(toks[8:17], false); err != nil {
				t.Fatal(err)
			}
			d2, _ := maxErr(e.Logits(), ref, 16, 1)
			d = max(d, d2)
			for p := 17; p < 20; p++ {
				if err := e.Forward(toks[p:p+1], false); err != nil {
					t.Fatal(err)
				}
				d2, _ := maxErr(e.Logits(), ref, p, 1)
				d = max(d, d2)
			}
			const tol = 1e-2
			t.Logf("kv %s %s: max |Δlogit| %.3g (max |logit| %.3g)", kv, mode, d, s)
			if !(d <= tol*s) {
				t.Errorf("kv %s %s: max |Δlogit| %g > %g·%g", kv, mode, d, tol, s)
			}
		}
	}
}

// TestDecodeMatchesFloat64Reference feeds the tokens one at a time with an
// f32 cache: every projection is then a GEMV on float32 activations and the
// engine is float32 throughout, held to 1e-5 of max|logit|.
func TestDecodeMatchesFloat64Reference(t *testing.T) {
	e, w := newTiny(t, device.ZeroCopy, Options{KV: device.KVF32, MaxSeq: 64, MaxBatch: 8})
	toks := prompt(20, w.Config.VocabSize)
	ref, err := Reference(w, toks)
	if err != nil {
		t.Fatal(err)
	}
	var d, s float64
	for p := range toks {
		if err := e.Forward(toks[p:p+1], false); err != nil {
			t.Fatal(err)
		}
		dp, sp := maxErr(e.Logits(), ref, p, 1)
		d, s = max(d, dp), max(s, sp)
	}
	const tol = 1e-5
	t.Logf("max |Δlogit| %.3g (max |logit| %.3g)", d, s)
	if !(d <= tol*s) {
		t.Errorf("max |Δlogit| %g > %g·%g", d, tol, s)
	}
}

// TestStateRestore copies the state region of one engine into a fresh one
// (what a snapshot restore does), resumes, and expects the same tokens as
// the engine that kept going.
func TestStateRestore(t *testing.T) {
	for _, kv := range []device.KVDType{device.KVBF16, device.KVF16} {
		a, w := newTiny(t, device.ZeroCopy, Options{KV: kv, MaxSeq: 48, MaxBatch: 8})
		if _, err := a.Prefill(prompt(11, w.Config.VocabSize)); err != nil {
			t.Fatal(err)
		}
		b, _ := newTiny(t, device.ZeroCopy, Options{KV: kv, MaxSeq: 48, MaxBatch: 8})
		copy(b.stateView, a.stateView)
		if err := b.Resume(); err != nil {
			t.Fatal(err)
		}
		if b.Pos() != 11 || b.Next() != a.Next() || len(b.Tokens()) != 11 {
			t.Fatalf("resumed at pos %d next %d, want 11 and %d", b.Pos(), b.Next(), a.Next())
		}
		ga, err := a.Generate(6)
		if err != nil {
			t.Fatal(err)
		}
		gb, err := b.Generate(6)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ga, gb) {
			t.Fatalf("kv %s: after restore %v, original %v", kv, gb, ga)
		}
		// A state of another geometry is refused.
		c, _ := newTiny(t, device.ZeroCopy, Options{KV: device.KVF32, MaxSeq: 48, MaxBatch: 8})
		copy(c.stateView[:StateHeaderSize], a.stateView[:StateHeaderSize])
		if err := c.Resume(); err == nil || !strings.Contains(err.Error(), "KV dtype") {
			t.Fatalf("resume of a %s state into an f32 engine: %v", kv, err)
		}
		c.stateView[0] = 'X'
		if err := c.Resume(); err == nil || !strings.Contains(err.Error(), "magic") {
			t.Fatalf("resume of garbage: %v", err)
		}
	}
}

func TestSamplingIsSeeded(t *testing.T) {
	run := func(seed uint64, temp, topP float32) []int32 {
		e, w := newTiny(t, device.ZeroCopy, Options{MaxSeq: 64})
		if err := e.SetSampling(temp, topP, seed); err != nil {
			t.Fatal(err)
		}
		first, err := e.Prefill(prompt(5, w.Config.VocabSize))
		if err != nil {
			t.Fatal(err)
		}
		rest, err := e.Generate(20)
		if err != nil {
			t.Fatal(err)
		}
		return append([]int32{first}, rest...)
	}
	a, b, c := run(1, 1.5, 0.9), run(1, 1.5, 0.9), run(2, 1.5, 0.9)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different tokens: %v %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("different seeds, same tokens: %v", a)
	}
	if full := run(3, 1, 0); len(full) != 21 {
		t.Fatalf("plain sampling gave %d tokens", len(full))
	}
	// Greedy equals argmax of the logits.
	e, w := newTiny(t, device.ZeroCopy, Options{MaxSeq: 64})
	next, err := e.Prefill(prompt(5, w.Config.VocabSize))
	if err != nil {
		t.Fatal(err)
	}
	l := e.Logits()
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	if int(next) != best {
		t.Fatalf("greedy picked %d, argmax is %d", next, best)
	}
	if err := e.SetSampling(-1, 0.5, 0); err == nil {
		t.Fatal("negative temperature accepted")
	}
	if err := e.SetSampling(1, float32(math.NaN()), 0); err == nil {
		t.Fatal("NaN top-p accepted")
	}
}

func TestEngineErrors(t *testing.T) {
	e, w := newTiny(t, device.ZeroCopy, Options{MaxSeq: 16, MaxBatch: 4})
	v := w.Config.VocabSize
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"empty", e.Forward(nil, false), "no tokens"},
		{"context", e.Forward(prompt(17, v), false), "exceed the context of 16"},
		{"all too many", e.Forward(prompt(5, v), true), "in one pass (maxBatch 4)"},
		{"token", e.Forward([]int32{int32(v)}, false), "outside the vocabulary"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if _, err := e.Generate(1); err == nil {
		t.Error("generate before prefill accepted")
	}
	// A chunked prefill of exactly the context works; one more token does not.
	if _, err := e.Prefill(prompt(16, v)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Decode(1); err == nil || !strings.Contains(err.Error(), "exceed the context") {
		t.Errorf("decode past the context: %v", err)
	}
	e.Reset()
	if e.Pos() != 0 || e.Next() != -1 {
		t.Errorf("reset: pos %d next %d", e.Pos(), e.Next())
	}
	for _, o := range []Options{{KV: "q8"}, {MaxSeq: 1 << 30}, {MaxBatch: -1}} {
		if _, err := New(w.Config, nil, nil, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestInvFreqLlama3(t *testing.T) {
	// Llama 3.2 1B: the highest frequencies are kept, the lowest divided by 32.
	inv := InvFreq(models.Llama32_1B())
	if len(inv) != 32 || inv[0] != 1 {
		t.Fatalf("inv_freq[0] = %v (len %d), want 1", inv[0], len(inv))
	}
	plain := float32(1 / math.Pow(500000, 62.0/64))
	if r := inv[31] / plain; math.Abs(float64(r)-1.0/32) > 1e-6 {
		t.Fatalf("inv_freq[31] = %g, want %g/32", inv[31], plain)
	}
}
