package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmgpu/wasmgpu/internal/regular"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// File names of a Hugging Face model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// LoadDir loads a Hugging Face model folder: config.json and a single
// model.safetensors, mapped read-only with no copy. Every tensor the config
// calls for must be present with its exact shape, and all must share one
// dtype (BF16, F16 or F32). A tensor the config does not call for means the
// config does not describe the file (num_hidden_layers 1 over a 2-layer
// file would load as a truncated model that answers plausibly and wrongly):
// it is refused, save two kinds Hugging Face ignores too, an lm_head.weight
// beside tied embeddings and rotary_emb.inv_freq buffers. Both files must be
// regular files.
//
// Source is left empty: hashing 2.5 GB takes seconds, so the caller sets
// it when provenance is wanted, with FileSHA256(w.Path). Close the weights
// to unmap the file.
func LoadDir(dir string) (*Weights, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load weights %s: %w", dir, err)
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load weights %s: %w", dir, err)
	}
	w, err := bind(cfg, f)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("load weights %s: %w", path, err), f.Close())
	}
	w.Path, w.file = path, f
	return w, nil
}

// bind checks that f holds every tensor cfg calls for and points the
// Weights' fields at them.
func bind(cfg Config, f *safetensors.File) (*Weights, error) {
	w := &Weights{Config: cfg}
	specs := cfg.TensorSpecs()
	slots := w.slots()
	for i, s := range specs {
		t, ok := f.Tensor(s.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %q: missing", s.Name)
		}
		if !slices.Equal(t.Shape, s.Shape) {
			return nil, fmt.Errorf("tensor %q: shape %v, config.json calls for %v", s.Name, t.Shape, s.Shape)
		}
		switch t.DType {
		case BF16, F16, F32:
		default:
			return nil, fmt.Errorf("tensor %q: dtype %s is not supported (want BF16, F16 or F32)", s.Name, t.DType)
		}
		if i == 0 {
			w.DType = t.DType
		} else if t.DType != w.DType {
			return nil, fmt.Errorf("tensor %q: dtype %s differs from %s of %q", s.Name, t.DType, w.DType, specs[0].Name)
		}
		*slots[i] = t
	}
	if cfg.TieWordEmbeddings {
		w.LMHead = w.Embed
	}
	if err := checkAllUsed(cfg, specs, f); err != nil {
		return nil, err
	}
	return w, nil
}

// checkAllUsed refuses a file that holds tensors the config does not call
// for, but for those that are not weights of the model (see LoadDir).
func checkAllUsed(cfg Config, specs []TensorSpec, f *safetensors.File) error {
	used := make(map[string]bool, len(specs))
	for _, s := range specs {
		used[s.Name] = true
	}
	var unused []string
	for _, t := range f.Tensors() {
		switch {
		case used[t.Name], strings.HasSuffix(t.Name, ".rotary_emb.inv_freq"),
			t.Name == NameLMHead && cfg.TieWordEmbeddings:
		default:
			unused = append(unused, t.Name)
		}
	}
	if len(unused) > 0 {
		return fmt.Errorf("%d tensors config.json does not call for, %q the first (num_hidden_layers %d, tie_word_embeddings %v): the config does not describe this file",
			len(unused), unused[0], cfg.NumHiddenLayers, cfg.TieWordEmbeddings)
	}
	return nil
}

// FileSHA256 returns "sha256:<hex>" of the file at path: the provenance a
// result records for real weights. It reads the whole file (seconds for
// gigabytes), hence separate from LoadDir.
func FileSHA256(path string) (string, error) {
	f, _, err := regular.Open(path)
	if err != nil {
		return "", fmt.Errorf("sha256: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 4<<20)); err != nil {
		return "", fmt.Errorf("sha256 %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
