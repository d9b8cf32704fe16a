package kernels

import (
	"embed"
	"fmt"
	"io/fs"
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

// MetalSource returns all embedded .metal files joined, in name order, into
// one translation unit for a single Metal library. Each file starts with a
// "// file: NAME" line so compiler messages can be traced back. Every file
// may include <metal_stdlib>; the header is guarded.
func MetalSource() (string, error) {
	names, err := fs.Glob(metalFS, "*.metal")
	if err != nil {
		return "", fmt.Errorf("kernels: list metal sources: %w", err)
	}
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
