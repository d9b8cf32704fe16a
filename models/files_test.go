package models

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/regular/regulartest"
)

// loadWithin runs LoadDir(dir) under a hang detector (regulartest.Within).
func loadWithin(t *testing.T, dir string) error {
	t.Helper()
	var err error
	regulartest.Within(t, "LoadDir("+dir+")", func() {
		var w *Weights
		if w, err = LoadDir(dir); err == nil {
			w.Close()
		}
	})
	return err
}

// TestLoadDirRefusesFIFOs: a FIFO in place of config.json or
// model.safetensors is refused at once, naming the file (before, LoadDir
// blocked for ever in open).
func TestLoadDirRefusesFIFOs(t *testing.T) {
	for _, name := range []string{ConfigFile, WeightsFile} {
		dir := writeModel(t, nil)
		regulartest.FIFO(t, filepath.Join(dir, name))
		err := loadWithin(t, dir)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s as a FIFO: %v", name, err)
		}
	}
}

// TestLoadConfigRefusesHugeFiles: config.json is read only up to a size no
// real config comes near.
func TestLoadConfigRefusesHugeFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), ConfigFile)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(maxConfigBytes + 1)
	f.Close()
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("a config of %d bytes: %v", maxConfigBytes+1, err)
	}
}

// TestLoadDirRefusesUnusedTensors: a config that leaves tensors of the file
// unused (num_hidden_layers 1 over a 2-layer file) does not describe the
// file: it is refused, naming a tensor and how many are unused (before, it
// loaded silently as a 1-layer model).
func TestLoadDirRefusesUnusedTensors(t *testing.T) {
	dir := writeModel(t, nil)
	cfg := Tiny()
	cfg.NumHiddenLayers = 1
	js, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadWithin(t, dir)
	if err == nil || !strings.Contains(err.Error(), "9 tensors") || !strings.Contains(err.Error(), "model.layers.1.") || !strings.Contains(err.Error(), WeightsFile) {
		t.Fatalf("a 1-layer config over a 2-layer file: %v", err)
	}
}

// TestLoadDirAllowsKnownExtras: an lm_head.weight beside tied embeddings
// and rotary inverse-frequency buffers (older exports) are not weights the
// config could use: they are ignored, as Hugging Face does.
func TestLoadDirAllowsKnownExtras(t *testing.T) {
	w, _ := Synthetic(Tiny(), 1, BF16)
	ts := append(w.Tensors(),
		Tensor{Name: NameLMHead, DType: BF16, Shape: []int{512, 64}, Data: w.Embed.Data},
		Tensor{Name: "model.layers.0.self_attn.rotary_emb.inv_freq", DType: F32, Shape: []int{8}, Data: make([]byte, 32)})
	if err := loadWithin(t, writeModel(t, ts)); err != nil {
		t.Fatal(err)
	}
}
