package models

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

func TestWriteLoadRoundTrip(t *testing.T) {
	for _, dt := range []DType{BF16, F16, F32} {
		t.Run(string(dt), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model") // made by WriteSafetensors
			w, err := Synthetic(Tiny(), 5, dt)
			if err != nil {
				t.Fatal(err)
			}
			got := writeLoad(t, dir, w)
			if got.DType != dt || got.Config.Hash() != w.Config.Hash() || got.Config.TorchDType != torchDType(dt) {
				t.Errorf("dtype %s config %+v", got.DType, got.Config)
			}
			if got.Source != "" || got.Path != filepath.Join(dir, WeightsFile) {
				t.Errorf("source %q path %q", got.Source, got.Path)
			}
			if weightsDigest(got) != weightsDigest(w) {
				t.Error("loaded weights differ from those written")
			}
			if &got.LMHead.Data[0] != &got.Embed.Data[0] {
				t.Error("tied lm_head is not the embedding")
			}
			f, err := safetensors.Open(got.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if md := f.Metadata(); md["format"] != "pt" || md["source"] != "synthetic:5" {
				t.Errorf("metadata %v", md)
			}
			if _, ok := f.Tensor(NameLMHead); ok {
				t.Error("lm_head.weight written for tied embeddings")
			}
			sum, err := FileSHA256(got.Path)
			if err != nil || !strings.HasPrefix(sum, "sha256:") || len(sum) != 71 {
				t.Errorf("FileSHA256 = %q, %v", sum, err)
			}
		})
	}
}

func TestLoadDirUntied(t *testing.T) {
	cfg := Tiny()
	cfg.TieWordEmbeddings = false
	w, _ := Synthetic(cfg, 1, BF16)
	got := writeLoad(t, t.TempDir(), w)
	if got.LMHead.Name != NameLMHead || !bytes.Equal(got.LMHead.Data, w.LMHead.Data) {
		t.Error("lm_head not loaded")
	}
}

// writeLoad writes w as a model folder in dir and loads it back; the
// loaded weights are closed when the test ends.
func writeLoad(t *testing.T, dir string, w *Weights) *Weights {
	t.Helper()
	if err := WriteSafetensors(dir, w); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { got.Close() })
	return got
}

// writeModel writes Tiny's config.json and a model.safetensors holding the
// given tensors, for malformed-folder tests.
func writeModel(t *testing.T, tensors []Tensor) string {
	t.Helper()
	dir := t.TempDir()
	w, _ := Synthetic(Tiny(), 1, BF16)
	if err := WriteSafetensors(dir, w); err != nil {
		t.Fatal(err)
	}
	if tensors != nil {
		if err := safetensors.Write(filepath.Join(dir, WeightsFile), tensors, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDirErrors(t *testing.T) {
	w, _ := Synthetic(Tiny(), 1, BF16)
	base := w.Tensors()
	edit := func(f func(ts []Tensor) []Tensor) []Tensor {
		ts := make([]Tensor, len(base))
		copy(ts, base)
		return f(ts)
	}
	q0 := "model.layers.0.self_attn.q_proj.weight"
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"missing tensor", edit(func(ts []Tensor) []Tensor { return append(ts[:2:2], ts[3:]...) }), `tensor "` + q0 + `": missing`},
		{"wrong shape", edit(func(ts []Tensor) []Tensor {
			ts[2] = Tensor{Name: q0, DType: BF16, Shape: []int{64, 32}, Data: make([]byte, 64*32*2)}
			return ts
		}), `tensor "` + q0 + `": shape [64 32], config.json calls for [64 64]`},
		{"dtype mismatch", edit(func(ts []Tensor) []Tensor {
			ts[2] = Tensor{Name: q0, DType: F32, Shape: []int{64, 64}, Data: make([]byte, 64*64*4)}
			return ts
		}), `tensor "` + q0 + `": dtype F32 differs from BF16 of "model.embed_tokens.weight"`},
		{"unsupported dtype", edit(func(ts []Tensor) []Tensor {
			ts[0] = Tensor{Name: NameEmbed, DType: I16, Shape: []int{512, 64}, Data: make([]byte, 512*64*2)}
			return ts
		}), `tensor "model.embed_tokens.weight": dtype I16 is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModel(t, tt.tensors)
			_, err := LoadDir(dir)
			path := filepath.Join(dir, WeightsFile)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v\nwant it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
}

const I16 = safetensors.I16

func TestLoadDirBadFiles(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		dir := writeModel(t, nil)
		path := filepath.Join(dir, WeightsFile)
		raw, _ := os.ReadFile(path)
		if err := os.WriteFile(path, raw[:len(raw)-100], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDir(dir)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "model.norm.weight"`) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("error %v", err)
		}
	})
	for _, name := range []string{ConfigFile, WeightsFile} {
		t.Run("no "+name, func(t *testing.T) {
			dir := writeModel(t, nil)
			os.Remove(filepath.Join(dir, name))
			if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("error %v", err)
			}
		})
	}
	t.Run("bad config", func(t *testing.T) {
		dir := writeModel(t, nil)
		os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"vocab_size": -3}`), 0o644)
		if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "vocab_size") || !strings.Contains(err.Error(), ConfigFile) {
			t.Fatalf("error %v", err)
		}
	})
	if _, err := FileSHA256(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("FileSHA256 of a missing file: no error")
	}
}

func TestParseWeightDType(t *testing.T) {
	for in, want := range map[string]DType{"bf16": BF16, "bfloat16": BF16, "F16": F16, "float32": F32} {
		if got, err := ParseWeightDType(in); err != nil || got != want {
			t.Errorf("ParseWeightDType(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseWeightDType("int4"); err == nil {
		t.Error("int4 accepted")
	}
}
