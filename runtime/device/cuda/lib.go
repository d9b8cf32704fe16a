package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ebitengine/purego"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// library describes one shared library the backend needs and where to look
// for it.
type library struct {
	what    string   // for messages: "CUDA driver (libcuda)"
	env     string   // environment variable holding an explicit path
	globs   []string // absolute paths or globs, tried in order
	sonames []string // bare names left to the dynamic loader's own search last
}

// The libraries. Paths come from the machines we run on:
// distribution packages, the NVIDIA container runtime's /usr/local/nvidia,
// the CUDA toolkit, and the pip wheels PyTorch installs.
var (
	libCUDA = library{
		what: "CUDA driver (libcuda)",
		env:  "WASMGPU_LIBCUDA",
		globs: []string{
			"/usr/lib/x86_64-linux-gnu/libcuda.so.1",
			"/usr/lib/aarch64-linux-gnu/libcuda.so.1",
			"/usr/local/nvidia/lib64/libcuda.so.1",
			"/usr/lib64/libcuda.so.1",
			"/usr/lib/libcuda.so.1",
			"/usr/local/cuda/compat/libcuda.so.1",
		},
		sonames: []string{"libcuda.so.1"},
	}
	libNVRTC = library{
		what: "NVRTC (libnvrtc)",
		env:  "WASMGPU_LIBNVRTC",
		globs: []string{
			"/usr/local/cuda/lib64/libnvrtc.so*",
			"/usr/local/cuda/targets/*/lib/libnvrtc.so*",
			"/usr/local/cuda-*/targets/*/lib/libnvrtc.so*",
			"/usr/lib/x86_64-linux-gnu/libnvrtc.so*",
			"/opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib/libnvrtc.so*",
			"/opt/torch/.venv/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so*",
		},
		sonames: []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"},
	}
	libCUBLAS = library{
		what: "cuBLAS (libcublas)",
		env:  "WASMGPU_LIBCUBLAS",
		globs: []string{
			"/usr/local/cuda/lib64/libcublas.so*",
			"/usr/local/cuda/targets/*/lib/libcublas.so*",
			"/usr/local/cuda-*/targets/*/lib/libcublas.so*",
			"/usr/lib/x86_64-linux-gnu/libcublas.so*",
			"/opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib/libcublas.so*",
			"/opt/torch/.venv/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so*",
		},
		sonames: []string{"libcublas.so", "libcublas.so.13", "libcublas.so.12"},
	}
)

// candidates lists the paths to try for lib, best first. An explicit path in
// the environment variable is the only candidate: an override that silently
// fell back to another copy would make results lie about what ran.
func (lib library) candidates(getenv func(string) string, glob func(string) ([]string, error)) []string {
	if p := getenv(lib.env); p != "" {
		return []string{p}
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range lib.globs {
		matches, err := glob(g)
		if err != nil {
			continue
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return append(out, lib.sonames...)
}

// open dlopens the first candidate that loads. The error wraps
// device.ErrNoDevice and names the library, what was tried, and the
// variable that overrides the search.
func (lib library) open() (handle uintptr, path string, err error) {
	if runtime.GOOS != "linux" {
		return 0, "", fmt.Errorf("%w: CUDA needs linux, this is %s", device.ErrNoDevice, runtime.GOOS)
	}
	var errs []string
	for _, p := range lib.candidates(os.Getenv, filepath.Glob) {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, p, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", p, err))
	}
	return 0, "", lib.notFound(errs)
}

// notFound is the error for a library no candidate of which loaded.
func (lib library) notFound(tried []string) error {
	how := "searched the usual paths; set " + lib.env + " to its path"
	if v := os.Getenv(lib.env); v != "" {
		how = lib.env + "=" + v
	}
	return fmt.Errorf("%w: %s not found (%s): %s", device.ErrNoDevice, lib.what, how, strings.Join(tried, "; "))
}

// sym is one symbol to resolve: where to store its address and the names to
// try in order (versioned entry points first, as cuda.h maps them).
type sym struct {
	p        *uintptr
	names    []string
	optional bool
}

// resolve looks up every symbol in the library at handle. A missing
// required symbol is an error naming it: a driver too old for this backend.
func resolve(handle uintptr, libPath string, syms []sym) error {
	var missing []string
	for _, s := range syms {
		for _, n := range s.names {
			if a, err := purego.Dlsym(handle, n); err == nil && a != 0 {
				*s.p = a
				break
			}
		}
		if *s.p == 0 && !s.optional {
			missing = append(missing, s.names[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %s (too old?)", device.ErrNoDevice, libPath, strings.Join(missing, ", "))
	}
	return nil
}

// errNoCUDA is returned by Open on a machine with a driver but no device.
var errNoCUDA = errors.New("no CUDA device: run on a GPU machine, see README")
