package models

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"runtime"
	"testing"
)

func weightsDigest(w *Weights) string {
	h := sha256.New()
	for _, t := range w.Tensors() {
		h.Write([]byte(t.Name))
		h.Write(t.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestSyntheticShapesAndLayout(t *testing.T) {
	cfg := Tiny()
	w, err := Synthetic(cfg, 7, BF16)
	if err != nil {
		t.Fatal(err)
	}
	if w.Source != "synthetic:7" || w.DType != BF16 || w.Config.TorchDType != "bfloat16" {
		t.Errorf("source %q dtype %s torch_dtype %q", w.Source, w.DType, w.Config.TorchDType)
	}
	specs := cfg.TensorSpecs()
	ts := w.Tensors()
	if len(ts) != len(specs) {
		t.Fatalf("%d tensors, want %d", len(ts), len(specs))
	}
	for i, s := range specs {
		if ts[i].Name != s.Name || len(ts[i].Data) != int(s.NumElements())*2 || ts[i].NumElements() != int(s.NumElements()) {
			t.Errorf("tensor %d: %s %v (%d bytes), want %s %v", i, ts[i].Name, ts[i].Shape, len(ts[i].Data), s.Name, s.Shape)
		}
	}
	if w.Bytes() != cfg.NumParams()*2 {
		t.Errorf("Bytes = %d, want %d", w.Bytes(), cfg.NumParams()*2)
	}
	if &w.LMHead.Data[0] != &w.Embed.Data[0] || w.LMHead.Name != NameEmbed {
		t.Error("tied lm_head is not the embedding")
	}
	if w.Layers[1].Down.Name != "model.layers.1.mlp.down_proj.weight" {
		t.Errorf("layer 1 down name %q", w.Layers[1].Down.Name)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}

	untied := Tiny()
	untied.TieWordEmbeddings = false
	u, err := Synthetic(untied, 7, F32)
	if err != nil {
		t.Fatal(err)
	}
	if u.LMHead.Name != NameLMHead || &u.LMHead.Data[0] == &u.Embed.Data[0] || len(u.Tensors()) != len(specs)+1 {
		t.Error("untied lm_head is not its own tensor")
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var digests []string
	for _, procs := range []int{1, 2, 7} {
		runtime.GOMAXPROCS(procs)
		w, err := Synthetic(Tiny(), 42, BF16)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, weightsDigest(w))
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Fatalf("weights depend on GOMAXPROCS: %v", digests)
	}
	// A golden digest: changing the generator changes every recorded
	// synthetic:<seed> result, so it must be a deliberate act.
	const golden = "7cd0387249af9cbdf6806763f468163f4f694ed0f67a23b2388d663e04e825da"
	if digests[0] != golden {
		t.Errorf("Tiny seed 42 bf16 digest %s, want %s", digests[0], golden)
	}
	other, _ := Synthetic(Tiny(), 43, BF16)
	if weightsDigest(other) == digests[0] {
		t.Error("seeds 42 and 43 give the same weights")
	}
}

func TestSyntheticDTypesAgree(t *testing.T) {
	f32, err := Synthetic(Tiny(), 3, F32)
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range []DType{BF16, F16} {
		w, err := Synthetic(Tiny(), 3, dt)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := f32.Layers[0].Q.Float32s()
		got, _ := w.Layers[0].Q.Float32s()
		for i := range want {
			var rounded float32
			if dt == BF16 {
				rounded = BF16ToF32(F32ToBF16(want[i]))
			} else {
				rounded = F16ToF32(F32ToF16(want[i]))
			}
			if got[i] != rounded {
				t.Fatalf("%s value %d = %v, want %v rounded from %v", dt, i, got[i], rounded, want[i])
			}
		}
	}
}

func TestSyntheticStatistics(t *testing.T) {
	w, err := Synthetic(Tiny(), 1, F32)
	if err != nil {
		t.Fatal(err)
	}
	stats := func(tt Tensor) (mean, std float64) {
		v, err := tt.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			mean += float64(x)
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v)))
	}
	if m, s := stats(w.Embed); math.Abs(m) > 1e-3 || math.Abs(s-0.02) > 1e-3 {
		t.Errorf("embedding mean %v std %v, want 0 and 0.02", m, s)
	}
	if m, s := stats(w.Layers[1].Gate); math.Abs(m) > 1e-3 || math.Abs(s-0.02) > 1e-3 {
		t.Errorf("gate mean %v std %v, want 0 and 0.02", m, s)
	}
	m, s := stats(w.FinalNorm)
	if math.Abs(m-1) > 0.01 || s < 0.005 || s > 0.04 {
		t.Errorf("norm mean %v std %v, want about 1 and 0.02", m, s)
	}
}

func TestSyntheticRejects(t *testing.T) {
	if _, err := Synthetic(Tiny(), 1, "I8"); err == nil {
		t.Error("I8 accepted")
	}
	bad := Tiny()
	bad.NumKeyValueHeads = 3
	if _, err := Synthetic(bad, 1, BF16); err == nil {
		t.Error("invalid config accepted")
	}
}

func BenchmarkSyntheticTiny(b *testing.B) {
	for b.Loop() {
		if _, err := Synthetic(Tiny(), 1, BF16); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyntheticLlama32_1B generates the full 2.47 GB of Llama 3.2 1B in
// bf16. The first iteration in a fresh process also pays for first-touching
// the memory, which on a VM can dominate.
func BenchmarkSyntheticLlama32_1B(b *testing.B) {
	b.SetBytes(Llama32_1B().NumParams() * 2)
	for b.Loop() {
		if _, err := Synthetic(Llama32_1B(), 1, BF16); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
	}
}
