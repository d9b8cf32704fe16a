package models

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// Parse makes Weights from a config.json and a model.safetensors already in
// memory (an embedded test fixture), with LoadDir's checks; name says where
// they come from in errors. The tensors are views of weights, which must
// stay unchanged while the Weights are in use.
func Parse(name string, config, weights []byte) (*Weights, error) {
	cfg, err := ParseConfig(config)
	if err != nil {
		return nil, fmt.Errorf("parse weights %s: %w", name, err)
	}
	f, err := safetensors.Parse(name, weights)
	if err != nil {
		return nil, fmt.Errorf("parse weights %s: %w", name, err)
	}
	w, err := bind(cfg, f)
	if err != nil {
		return nil, fmt.Errorf("parse weights %s: %w", name, err)
	}
	return w, nil
}
