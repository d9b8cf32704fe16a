package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/wasmgpu/wasmgpu/internal/atomicfile"
	"github.com/wasmgpu/wasmgpu/kernels"
)

// nvrtc holds the NVRTC entry points (libnvrtc): CUDA C source to PTX at run
// time, so the binary needs no CUDA toolkit at build time and stays cgo-free.
type nvrtc struct {
	path string

	nvrtcVersion, nvrtcGetErrorString                                        uintptr
	nvrtcCreateProgram, nvrtcDestroyProgram, nvrtcCompileProgram             uintptr
	nvrtcGetPTXSize, nvrtcGetPTX, nvrtcGetProgramLogSize, nvrtcGetProgramLog uintptr

	major, minor int32 // NVRTC's own version, part of the PTX cache key
}

// load resolves NVRTC's symbols, reads its version and preloads its
// builtins library (preloadBuiltins).
func (n *nvrtc) load(handle uintptr) error {
	preloadBuiltins(n.path)
	err := resolve(handle, n.path, []sym{
		{p: &n.nvrtcVersion, names: []string{"nvrtcVersion"}},
		{p: &n.nvrtcGetErrorString, names: []string{"nvrtcGetErrorString"}},
		{p: &n.nvrtcCreateProgram, names: []string{"nvrtcCreateProgram"}},
		{p: &n.nvrtcDestroyProgram, names: []string{"nvrtcDestroyProgram"}},
		{p: &n.nvrtcCompileProgram, names: []string{"nvrtcCompileProgram"}},
		{p: &n.nvrtcGetPTXSize, names: []string{"nvrtcGetPTXSize"}},
		{p: &n.nvrtcGetPTX, names: []string{"nvrtcGetPTX"}},
		{p: &n.nvrtcGetProgramLogSize, names: []string{"nvrtcGetProgramLogSize"}},
		{p: &n.nvrtcGetProgramLog, names: []string{"nvrtcGetProgramLog"}},
	})
	if err != nil {
		return err
	}
	return n.check("nvrtcVersion", call(n.nvrtcVersion, uintptr(unsafe.Pointer(&n.major)), uintptr(unsafe.Pointer(&n.minor))))
}

// check turns an nvrtcResult into an error naming the call, or nil.
func (n *nvrtc) check(callName string, r int32) error {
	if r == 0 {
		return nil
	}
	e := &Error{Lib: "nvrtc", Call: callName, Code: r, Name: nvrtcResultNames[r]}
	if n != nil && n.nvrtcGetErrorString != 0 {
		e.Desc = goString(callPtr(n.nvrtcGetErrorString, uintptr(r)))
	}
	return e
}

// nvrtcOptions are the options the backend compiles kernels with for
// compute capability cc ("90"). The kernel compile test uses them too.
func nvrtcOptions(cc string) []string { return []string{"--gpu-architecture=compute_" + cc} }

// preloadBuiltins loads libnvrtc-builtins from the folder NVRTC was loaded
// from (libPath), so that NVRTC's own dlopen of it by name finds it already
// loaded: an NVRTC outside the loader's search path (WASMGPU_LIBNVRTC=
// /opt/...) then works without LD_LIBRARY_PATH. Best effort: NVRTC reports
// a missing builtins library itself, at the first compile.
func preloadBuiltins(libPath string) {
	if !filepath.IsAbs(libPath) {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(libPath), "libnvrtc-builtins.so*"))
	for _, m := range matches {
		if _, err := purego.Dlopen(m, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return
		}
	}
}

// compile turns one CUDA C source into NUL-terminated PTX, with headers as
// the files it may #include by name. A compile error carries NVRTC's log.
// NVRTC rejects -O3 (it always optimizes); options are passed as given.
func (n *nvrtc) compile(name, src string, headers []kernels.CUDASource, opts []string) ([]byte, error) {
	prog, err := n.program(name, src, headers, opts)
	if err != nil {
		return nil, err
	}
	defer call(n.nvrtcDestroyProgram, uintptr(unsafe.Pointer(&prog)))
	var size uint64
	if err := n.check("nvrtcGetPTXSize", call(n.nvrtcGetPTXSize, prog, uintptr(unsafe.Pointer(&size)))); err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	ptx := make([]byte, size+1)
	if err := n.check("nvrtcGetPTX", call(n.nvrtcGetPTX, prog, uintptr(unsafe.Pointer(&ptx[0])))); err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	ptx = ptx[:size] // NVRTC counts the terminating NUL in size
	if len(ptx) == 0 || ptx[len(ptx)-1] != 0 {
		ptx = append(ptx, 0)
	}
	return ptx, nil
}

// program creates an NVRTC program for src with headers and compiles it
// with opts. The caller destroys the program (nvrtcDestroyProgram) after
// reading its output; on error there is none to destroy.
func (n *nvrtc) program(name, src string, headers []kernels.CUDASource, opts []string) (uintptr, error) {
	csrc, cname := cString(src), cString(name)
	hsrc := make([][]byte, len(headers))
	hname := make([][]byte, len(headers))
	hp := make([]uintptr, len(headers)+1)
	hn := make([]uintptr, len(headers)+1)
	for i, h := range headers {
		hsrc[i], hname[i] = cString(h.Text), cString(h.Name)
		hp[i], hn[i] = uintptr(unsafe.Pointer(&hsrc[i][0])), uintptr(unsafe.Pointer(&hname[i][0]))
	}
	var prog uintptr
	err := n.check("nvrtcCreateProgram", call(n.nvrtcCreateProgram, uintptr(unsafe.Pointer(&prog)),
		uintptr(unsafe.Pointer(&csrc[0])), uintptr(unsafe.Pointer(&cname[0])),
		uintptr(len(headers)), uintptr(unsafe.Pointer(&hp[0])), uintptr(unsafe.Pointer(&hn[0]))))
	runtime.KeepAlive(hsrc)
	runtime.KeepAlive(hname)
	if err != nil {
		return 0, fmt.Errorf("compile %s: %w", name, err)
	}
	copts := make([][]byte, len(opts))
	optPtrs := make([]uintptr, len(opts)+1)
	for i, o := range opts {
		copts[i] = cString(o)
		optPtrs[i] = uintptr(unsafe.Pointer(&copts[i][0]))
	}
	r := call(n.nvrtcCompileProgram, prog, uintptr(len(opts)), uintptr(unsafe.Pointer(&optPtrs[0])))
	runtime.KeepAlive(copts)
	if r != 0 {
		err := n.check("nvrtcCompileProgram", r)
		if e, ok := err.(*Error); ok {
			e.Log = strings.TrimSpace(n.log(prog))
		}
		call(n.nvrtcDestroyProgram, uintptr(unsafe.Pointer(&prog)))
		return 0, fmt.Errorf("compile %s with %s: %w", name, strings.Join(opts, " "), err)
	}
	return prog, nil
}

// log returns the program's compile log.
func (n *nvrtc) log(prog uintptr) string {
	var size uint64
	if call(n.nvrtcGetProgramLogSize, prog, uintptr(unsafe.Pointer(&size))) != 0 || size <= 1 {
		return ""
	}
	b := make([]byte, size)
	if call(n.nvrtcGetProgramLog, prog, uintptr(unsafe.Pointer(&b[0]))) != 0 {
		return ""
	}
	return strings.TrimRight(string(b), "\x00")
}

// ptxCacheKey is the content hash a compiled PTX is stored under: anything
// that can change the PTX is in it, the headers' names and texts too.
func ptxCacheKey(name, src string, headers []kernels.CUDASource, opts []string, cc string, nvrtcMajor, nvrtcMinor int32) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00cc=%s\x00nvrtc=%d.%d", name, src, strings.Join(opts, "\x00"), cc, nvrtcMajor, nvrtcMinor)
	for _, hd := range headers {
		fmt.Fprintf(h, "\x00header=%s\x00%d\x00%s", hd.Name, len(hd.Text), hd.Text)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ptxCacheDir is where compiled PTX is kept between processes:
// $WASMGPU_PTX_CACHE if set ("off" disables the cache), else
// os.UserCacheDir()/wasmgpu/ptx. Empty means no cache.
func ptxCacheDir() string {
	if v := os.Getenv("WASMGPU_PTX_CACHE"); v != "" {
		if v == "off" {
			return ""
		}
		return v
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wasmgpu", "ptx")
}

// compileCached returns PTX for src from the disk cache, or compiles and
// stores it. The cache is an optimization: failing to read or write it is
// not an error.
func (n *nvrtc) compileCached(name, src string, headers []kernels.CUDASource, opts []string, cc string) (ptx []byte, cached bool, err error) {
	dir := ptxCacheDir()
	key := ptxCacheKey(name, src, headers, opts, cc, n.major, n.minor)
	file := filepath.Join(dir, key+".ptx")
	if dir != "" {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 && b[len(b)-1] == 0 {
			return b, true, nil
		}
	}
	ptx, err = n.compile(name, src, headers, opts)
	if err != nil {
		return nil, false, err
	}
	if dir != "" && os.MkdirAll(dir, 0o755) == nil {
		_ = atomicfile.WriteFile(file, ptx, 0o644)
	}
	return ptx, false, nil
}
