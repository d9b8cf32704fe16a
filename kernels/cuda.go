package kernels

import (
	"embed"
	"fmt"
	"io/fs"
)

// cudaFS holds the CUDA C sources and the headers they share; the cuda
// backend compiles each .cu file with NVRTC into one module at run time,
// giving it every .cuh file as a header, so no CUDA toolkit is needed to
// build this module.
//
//go:embed *.cu *.cuh
var cudaFS embed.FS

// CUDASource is one embedded .cu or .cuh file.
type CUDASource struct {
	Name string // file name, e.g. "sgemm.cu"; NVRTC reports errors against it
	Text string
}

// CUDASources returns every embedded .cu file in name order. The cuda
// backend looks kernels up by their extern "C" name across all files, so
// adding a kernel is adding an extern "C" __global__ function to a file here.
func CUDASources() ([]CUDASource, error) { return cudaFiles("*.cu") }

// CUDAHeaders returns every embedded .cuh file in name order: the headers
// a .cu file may #include by name (#include "llm_common.cuh").
func CUDAHeaders() ([]CUDASource, error) { return cudaFiles("*.cuh") }

// cudaFiles reads the embedded files matching pattern.
func cudaFiles(pattern string) ([]CUDASource, error) {
	names, err := fs.Glob(cudaFS, pattern)
	if err != nil {
		return nil, fmt.Errorf("kernels: list cuda files %s: %w", pattern, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kernels: no %s files embedded", pattern)
	}
	out := make([]CUDASource, 0, len(names))
	for _, name := range names {
		b, err := cudaFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("kernels: read %s: %w", name, err)
		}
		out = append(out, CUDASource{Name: name, Text: string(b)})
	}
	return out, nil
}
