package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	if err := writeFileAtomic(filepath.Join(dir, ConfigFile), append(cj, '\n')); err != nil {
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

// writeFileAtomic writes data to a temporary file beside path, fsyncs it and
// renames it into place.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	if _, err := f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Chmod(0o644); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return safetensors.SyncDir(dir)
}
