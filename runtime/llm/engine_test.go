package llm

import (
	"math"
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
	return e, w
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

func TestNativeMatchesFloat64Reference(t *testing.T) {
	for _, kv := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
		for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
			e, w := newTiny(t, mode, Options{KV: kv, MaxSeq: 64, MaxBatch: 8})
			toks := prompt(20, w.Config.VocabSize)
			ref := refForward(t, w, toks)
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
			tol := 1e-5
			if kv != device.KVF32 {
				tol = 1e-2
			}
			t.Logf("kv %s %s: max |Δlogit| %.3g (max |logit| %.3g)", kv, mode, d, s)
			if !(d <= tol*s) {
				t.Errorf("kv %s %s: max |Δlogit| %g > %g·%g", kv, mode, d, tol, s)
			}
		}
	}
}
