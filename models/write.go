package models

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmgpu/wasmgpu/internal/atomicfile"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// WriteSafetensors writes w as a Hugging Face model folder in dir (created if
// needed): config.json and model.safetensors with HF tensor names (no
// lm_head.weight when embeddings are tied) and metadata format "pt", so
// transformers' LlamaForCausalLM.from_pretrained(dir) loads the very same
// numbers. Each file is written atomically.
func WriteSafetensors(dir string, w *Weights) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write weights %s: %w", dir, err)
	}
	cfg := w.Config
	cfg.TorchDType = torchDType(w.DType)
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("write weights %s: config: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(cj, '\n'), 0o644); err != nil {
		return fmt.Errorf("write weights %s: %w", dir, err)
	}
	md := map[string]string{"format": "pt"}
	if w.Source != "" {
		md["source"] = w.Source
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), w.Tensors(), md); err != nil {
		return fmt.Errorf("write weights %s: %w", dir, err)
	}
	return nil
}
