package kernels

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// metalFS holds the Metal Shading Language sources; the metal backend
// compiles them at run time (newLibraryWithSource:options:error:), so no
// Xcode toolchain is needed to build this module.
//
//go:embed *.metal
var metalFS embed.FS

// Metal kernel (function) names, as written in the .metal sources. The metal
// backend builds one compute pipeline per name listed in MetalKernels.
const (
	// MetalSgemmNaive is the one-thread-per-element fp32 GEMM used to
	// cross-check MPSMatrixMultiplication (sgemm_naive.metal).
	MetalSgemmNaive = "sgemm_naive"
)

// MetalKernels lists every kernel function the metal backend must find in
// MetalSource; a missing one fails the device's Open.
var MetalKernels = []string{MetalSgemmNaive}

// MetalLLMFile holds the Llama kernels (device.LLMOps). It is left out of
// MetalSource and compiled into a library of its own when weights are first
// loaded, so that a fault in it cannot keep the device from opening for the
// GEMM experiments.
const MetalLLMFile = "llm.metal"

// MetalLLMKernels lists the kernel functions of MetalLLMFile; the metal
// backend builds one pipeline per name. Names ending in _bf16, _f16 and _f32
// exist once per weight or KV cache element type (the LLM_DT macro).
var MetalLLMKernels = []string{
	"embed_bf16", "embed_f16", "embed_f32",
	"rmsnorm_bf16", "rmsnorm_f16", "rmsnorm_f32",
	"gemv_bf16", "gemv_f16", "gemv_f32",
	"gemm_bf16", "gemm_f16", "gemm_f32",
	"kvstore_bf16", "kvstore_f16", "kvstore_f32",
	"attention_bf16", "attention_f16", "attention_f32",
	"rope_f32", "swiglu_f32", "add_f32", "argmax_f32",
}

// MetalSource returns the embedded .metal files except MetalLLMFile joined,
// in name order, into one translation unit for a single Metal library. Each
// file starts with a "// file: NAME" line so compiler messages can be traced
// back. Every file may include <metal_stdlib>; the header is guarded.
func MetalSource() (string, error) {
	names, err := fs.Glob(metalFS, "*.metal")
	if err != nil {
		return "", fmt.Errorf("kernels: list metal sources: %w", err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == MetalLLMFile })
	if len(names) == 0 {
		return "", fmt.Errorf("kernels: no .metal sources embedded")
	}
	var sb strings.Builder
	for _, name := range names {
		b, err := metalFS.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("kernels: read %s: %w", name, err)
		}
		fmt.Fprintf(&sb, "// file: %s\n", name)
		sb.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			sb.WriteByte('\n')
		}
	}
	return sb.String(), nil
}

// MetalLLMSource returns MetalLLMFile, headed by its "// file:" line.
func MetalLLMSource() (string, error) {
	b, err := metalFS.ReadFile(MetalLLMFile)
	if err != nil {
		return "", fmt.Errorf("kernels: read %s: %w", MetalLLMFile, err)
	}
	return "// file: " + MetalLLMFile + "\n" + string(b), nil
}
