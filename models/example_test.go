package models_test

import (
	"fmt"
	"log"
	"os"

	"github.com/wasmgpu/wasmgpu/models"
)

// Generate synthetic weights of the tiny test model, write them as a
// Hugging Face folder, and load them back zero-copy.
func Example() {
	w, err := models.Synthetic(models.Tiny(), 1, models.BF16)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := models.WriteSafetensors(dir, w); err != nil {
		log.Fatal(err)
	}

	loaded, err := models.LoadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer loaded.Close()
	cfg := loaded.Config
	fmt.Println(len(loaded.Layers), "layers,", cfg.NumParams(), "parameters,", loaded.DType)
	fmt.Println(loaded.Layers[0].Q.Name, loaded.Layers[0].Q.Shape)
	fmt.Println("KV bytes per token (bf16):", cfg.KVBytesPerToken(2))
	fmt.Println("source:", w.Source)
	// Output:
	// 2 layers, 131392 parameters, BF16
	// model.layers.0.self_attn.q_proj.weight [64 64]
	// KV bytes per token (bf16): 256
	// source: synthetic:1
}
