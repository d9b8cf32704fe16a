package cuda

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Tests in this file need no GPU.

func TestLibraryCandidates(t *testing.T) {
	lib := library{
		env:     "X_LIB",
		globs:   []string{"/a/libx.so*", "/b/libx.so.1", "/a/libx.so*"},
		sonames: []string{"libx.so.1"},
	}
	fs := map[string][]string{
		"/a/libx.so*":  {"/a/libx.so", "/a/libx.so.1"},
		"/b/libx.so.1": {"/b/libx.so.1"},
	}
	glob := func(p string) ([]string, error) {
		if p == "[" {
			return nil, filepath.ErrBadPattern
		}
		return fs[p], nil
	}
	for _, tc := range []struct {
		name string
		env  string
		fs   map[string][]string
		want []string
	}{
		{"env overrides everything", "/opt/libx.so", fs, []string{"/opt/libx.so"}},
		{"globs in order, deduplicated, then sonames", "", fs, []string{"/a/libx.so", "/a/libx.so.1", "/b/libx.so.1", "libx.so.1"}},
		{"nothing on disk leaves the loader's search", "", map[string][]string{}, []string{"libx.so.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs = tc.fs
			getenv := func(k string) string {
				if k == "X_LIB" {
					return tc.env
				}
				return ""
			}
			if got := lib.candidates(getenv, glob); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("candidates = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLibrariesHaveEnvOverride(t *testing.T) {
	for _, lib := range []library{libCUDA, libNVRTC, libCUBLAS} {
		if !strings.HasPrefix(lib.env, "WASMGPU_LIB") || len(lib.globs) == 0 || len(lib.sonames) == 0 {
			t.Errorf("%s: env %q, %d globs, %d sonames", lib.what, lib.env, len(lib.globs), len(lib.sonames))
		}
		for _, g := range lib.globs {
			if _, err := filepath.Match(g, g); err != nil {
				t.Errorf("%s: bad glob %q: %v", lib.what, g, err)
			}
		}
	}
}

func TestOpenMissingLibrary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("library search is linux-only")
	}
	const bogus = "/nonexistent/wasmgpu/libcuda.so.1"
	t.Setenv("WASMGPU_LIBCUDA", bogus)
	_, err := Open()
	if !errors.Is(err, device.ErrNoDevice) {
		t.Fatalf("Open with %s: err = %v, want ErrNoDevice", bogus, err)
	}
	for _, want := range []string{"libcuda", bogus, "WASMGPU_LIBCUDA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestOpenHere(t *testing.T) {
	d, err := Open()
	if err == nil {
		d.Close()
		t.Skip("a CUDA device is present")
	}
	if !errors.Is(err, device.ErrNoDevice) {
		t.Fatalf("Open: %v, want an error wrapping ErrNoDevice", err)
	}
	t.Logf("Open here: %v", err)
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{Lib: "cuda", Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY", Desc: "out of memory"},
			"cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"},
		{&Error{Lib: "cuda", Call: "cuInit", Code: 12345}, "cuInit: unknown cuda error (12345)"},
		{&Error{Lib: "nvrtc", Call: "nvrtcCompileProgram", Code: 6, Name: "NVRTC_ERROR_COMPILATION", Desc: "NVRTC_ERROR_COMPILATION", Log: "k.cu(1): error: x"},
			"nvrtcCompileProgram: NVRTC_ERROR_COMPILATION (6)\nk.cu(1): error: x"},
		{cublasError("cublasSgemm_v2", 7), "cublasSgemm_v2: CUBLAS_STATUS_INVALID_VALUE (7): an invalid value was passed"},
		{cublasError("cublasCreate_v2", 99), "cublasCreate_v2: unknown cublas error (99)"},
		{(*driver)(nil).check("cuCtxSetCurrent", 201), "cuCtxSetCurrent: CUDA_ERROR_INVALID_CONTEXT (201)"},
		{(*nvrtc)(nil).check("nvrtcCreateProgram", 3), "nvrtcCreateProgram: NVRTC_ERROR_INVALID_INPUT (3)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	if cublasError("x", 0) != nil || (*driver)(nil).check("x", 0) != nil || (*nvrtc)(nil).check("x", 0) != nil {
		t.Error("code 0 must be no error")
	}
	var e *Error
	if !errors.As(error(cublasError("cublasSgemm_v2", 13)), &e) || e.Code != 13 || e.Lib != "cublas" {
		t.Errorf("errors.As: %+v", e)
	}
}

func TestGemmBytes(t *testing.T) {
	for _, tc := range []struct {
		m, n, k    int
		a, b, c    uint64
		wantErrSub string
	}{
		{2, 3, 4, 32, 48, 24, ""},
		{257, 257, 257, 257 * 257 * 4, 257 * 257 * 4, 257 * 257 * 4, ""},
		{0, 1, 1, 0, 0, 0, "must be in"},
		{1, -1, 1, 0, 0, 0, "must be in"},
		{1, 1, math.MaxInt32 + 1, 0, 0, 0, "must be in"},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32, 0, 0, 0, ""},
	} {
		a, b, c, err := gemmBytes(tc.m, tc.n, tc.k)
		if tc.wantErrSub != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
				t.Errorf("gemmBytes(%d,%d,%d) err = %v, want %q", tc.m, tc.n, tc.k, err, tc.wantErrSub)
			}
			continue
		}
		if err != nil {
			t.Errorf("gemmBytes(%d,%d,%d): %v", tc.m, tc.n, tc.k, err)
			continue
		}
		if tc.a != 0 && (a != tc.a || b != tc.b || c != tc.c) {
			t.Errorf("gemmBytes(%d,%d,%d) = %d %d %d, want %d %d %d", tc.m, tc.n, tc.k, a, b, c, tc.a, tc.b, tc.c)
		}
	}
}

func TestPackArgs(t *testing.T) {
	var a argBlock
	a.init()
	if err := a.pack([]any{uint64(1 << 40), int32(-1), uint32(7), float32(1.5), float64(2), int64(-2), uintptr(9)}); err != nil {
		t.Fatal(err)
	}
	want := []uint64{1 << 40, 0xffffffff, 7, uint64(math.Float32bits(1.5)), math.Float64bits(2), ^uint64(1), 9}
	for i, w := range want {
		if a.slots[i] != w {
			t.Errorf("slot %d = %#x, want %#x", i, a.slots[i], w)
		}
		if *(*uint64)(a.ptrs[i]) != w {
			t.Errorf("ptrs[%d] does not point at slot %d", i, i)
		}
	}
	if err := a.pack([]any{1}); err == nil {
		t.Error("Go int accepted; its size differs from C int")
	}
	if err := a.pack(make([]any, maxKernelArgs+1)); err == nil {
		t.Error("too many arguments accepted")
	}
}

// launchLike has Launch's variadic signature, so the allocation test sees
// what a caller of Launch pays for boxing its arguments.
func launchLike(a *argBlock, args ...any) error { return a.pack(args) }

func TestPackArgsAllocs(t *testing.T) {
	a := new(argBlock)
	a.init()
	p, n, eps := uint64(0x7f0000001000), int32(4096), float32(1e-5)
	allocs := testing.AllocsPerRun(100, func() {
		if err := launchLike(a, p, p+64, n, eps); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("packing 4 kernel arguments allocates %v times per launch, want 0", allocs)
	}
}

func TestCallAllocs(t *testing.T) {
	// call() through purego on libc: the per-call cost of a binding, without a GPU.
	if runtime.GOOS != "linux" {
		t.Skip("linux libc")
	}
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Skip("no libc.so.6:", err)
	}
	getpid, err := purego.Dlsym(h, "getpid")
	if err != nil {
		t.Skip(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { call(getpid) }); allocs != 0 {
		t.Errorf("call allocates %v times, want 0", allocs)
	}
}

func TestPTXCacheKey(t *testing.T) {
	hs := []kernels.CUDASource{{Name: "h.cuh", Text: "x"}}
	opts := []string{"--gpu-architecture=compute_90"}
	base := ptxCacheKey("a.cu", "src", hs, opts, "90", 13, 0)
	for _, other := range []string{
		ptxCacheKey("a.cu", "src2", hs, opts, "90", 13, 0),
		ptxCacheKey("a.cu", "src", hs, []string{"--gpu-architecture=compute_80"}, "90", 13, 0),
		ptxCacheKey("a.cu", "src", hs, opts, "80", 13, 0),
		ptxCacheKey("a.cu", "src", hs, opts, "90", 13, 1),
		ptxCacheKey("b.cu", "src", hs, opts, "90", 13, 0),
		ptxCacheKey("a.cu", "src", nil, opts, "90", 13, 0),
		ptxCacheKey("a.cu", "src", []kernels.CUDASource{{Name: "h.cuh", Text: "y"}}, opts, "90", 13, 0),
		ptxCacheKey("a.cu", "src", []kernels.CUDASource{{Name: "g.cuh", Text: "x"}}, opts, "90", 13, 0),
	} {
		if other == base {
			t.Error("cache key ignores an input")
		}
	}
	if len(base) != 64 {
		t.Errorf("key %q is not a sha256 hex", base)
	}
	t.Setenv("WASMGPU_PTX_CACHE", "off")
	if ptxCacheDir() != "" {
		t.Error("WASMGPU_PTX_CACHE=off does not disable the cache")
	}
}

func TestPCIeGen(t *testing.T) {
	for in, want := range map[string]string{
		"32.0 GT/s PCIe": "gen5", "16.0 GT/s PCIe": "gen4", "8.0 GT/s PCIe": "gen3",
		"2.5 GT/s PCIe": "gen1", "": "unknown", "Unknown": "unknown(Unknown)",
	} {
		if got := pcieGen(in); got != want {
			t.Errorf("pcieGen(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsVersion(t *testing.T) {
	for w, want := range map[string]bool{"580.159.04": true, "535.86": true, "for": false, "x86_64": false, "13": false, ".1": false, "1.": false} {
		if isVersion(w) != want {
			t.Errorf("isVersion(%q) = %v", w, !want)
		}
	}
}

// TestAttentionSplits checks that every split count covers every context
// up to the cache's capacity with chunks the kernels can take: whole
// batches (align), at least minChunk rows, and no token with more
// non-empty splits than there are.
func TestAttentionSplits(t *testing.T) {
	for _, sms := range []int{1, 8, 132} {
		for _, blocks := range []int{1, 8, 64, 500, 4000} {
			for _, seq := range []int{1, 16, 33, 256, 513, 4160, 131072} {
				for _, ac := range [][2]int{{32, 64}, {32, 32}, {64, 64}} {
					align, minChunk := ac[0], ac[1]
					s := attentionSplits(seq, blocks, sms, minChunk)
					if s < 1 || s > maxAttentionSplits || (s > 1 && s > ceilDiv(seq, minChunk)) {
						t.Fatalf("seq %d blocks %d sms %d min %d: %d splits", seq, blocks, sms, minChunk, s)
					}
					for _, ctx := range []int{1, 2, 31, 32, 33, 63, 64, 65, seq / 2, seq - 1, seq} {
						if ctx < 1 || ctx > seq {
							continue
						}
						c := attentionChunk(ctx, s, align, minChunk)
						if c%align != 0 || c < minChunk || s*c < ctx {
							t.Fatalf("seq %d ctx %d: %d splits of %d rows (align %d, min %d)", seq, ctx, s, c, align, minChunk)
						}
					}
				}
			}
		}
	}
}

// TestPlanAttention checks which kernel each call shape gets.
func TestPlanAttention(t *testing.T) {
	const a = 1 << 20 // an aligned address
	for _, tc := range []struct {
		name                      string
		dt                        device.KVDType
		n, heads, kvHeads, hd     int
		q, k                      uint64
		kind                      attnKind
		splitsAtLeast, splitsMost int
	}{
		{"decode bf16 hd64", device.KVBF16, 1, 32, 8, 64, a, a, attnDecode, 16, 66},
		{"decode f16 hd128", device.KVF16, 1, 32, 4, 128, a, a, attnDecode, 2, 256},
		{"prefill bf16", device.KVBF16, 64, 32, 8, 64, a, a, attnPrefill, 1, 1},
		{"prefill unaligned q", device.KVBF16, 64, 32, 8, 64, a + 4, a, attnDecode, 1, 256},
		{"short pass", device.KVBF16, 15, 32, 8, 64, a, a, attnDecode, 1, 256},
		{"f32 cache", device.KVF32, 1, 32, 8, 64, a, a, attnGeneric, 2, 256},
		{"odd head size", device.KVBF16, 1, 8, 2, 16, a, a, attnGeneric, 1, 256},
		{"many heads a group", device.KVBF16, 1, 32, 2, 64, a, a, attnGeneric, 2, 256},
		{"unaligned cache", device.KVBF16, 1, 32, 8, 64, a, a + 2, attnGeneric, 2, 256},
	} {
		p := planAttention(tc.dt, tc.n, 4160, tc.heads, tc.kvHeads, tc.hd, 132, tc.q, tc.k, tc.k, a)
		if p.kind != tc.kind || p.splits < tc.splitsAtLeast || p.splits > tc.splitsMost {
			t.Errorf("%s: kind %d with %d splits, want kind %d with %d..%d", tc.name, p.kind, p.splits, tc.kind, tc.splitsAtLeast, tc.splitsMost)
		}
		if (p.splits > 1) != (p.partBytes > 0) || p.shmem > 48<<10 {
			t.Errorf("%s: %d splits, %d bytes of partial results, %d of shared memory", tc.name, p.splits, p.partBytes, p.shmem)
		}
	}
}
