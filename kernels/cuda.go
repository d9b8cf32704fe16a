package kernels

import (
	"embed"
	"fmt"
	"io/fs"
)

// cudaFS holds the CUDA C sources; the cuda backend compiles each file with
// NVRTC into one module at run time, so no CUDA toolkit is needed to build
// this module.
//
//go:embed *.cu
var cudaFS embed.FS

// CUDASource is one embedded .cu file.
type CUDASource struct {
	Name string // file name, e.g. "sgemm.cu"; NVRTC reports errors against it
	Text string
}

// CUDASources returns every embedded .cu file in name order. The cuda
// backend looks kernels up by their extern "C" name across all files, so
// adding a kernel is adding an extern "C" __global__ function to a file here.
func CUDASources() ([]CUDASource, error) {
	names, err := fs.Glob(cudaFS, "*.cu")
	if err != nil {
		return nil, fmt.Errorf("kernels: list cuda sources: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kernels: no .cu sources embedded")
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
