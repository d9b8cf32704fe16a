// Package models describes Llama-architecture models and their weights: the
// Hugging Face config.json (Config, with presets for Llama 3.2 1B and a tiny
// test model), the weight tensors in Hugging Face layout (Weights), loading
// them zero-copy from a model.safetensors file (LoadDir), generating
// deterministic synthetic weights of the exact architecture (Synthetic) and
// writing weights back out in Hugging Face layout (WriteSafetensors) so a
// reference implementation can run the very same numbers.
//
// models knows no device: weights are raw little-endian bytes in host memory,
// and what a device does with them is the runtime's business.
package models
