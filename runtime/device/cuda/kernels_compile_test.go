package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// openNVRTC loads NVRTC alone (no driver, no GPU needed), or skips.
func openNVRTC(t *testing.T) *nvrtc {
	t.Helper()
	h, path, err := libNVRTC.open()
	if errors.Is(err, device.ErrNoDevice) {
		t.Skipf("no NVRTC: %v (set WASMGPU_LIBNVRTC to a libnvrtc.so to run this test)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := &nvrtc{path: path}
	if err := n.load(h); err != nil {
		t.Fatal(err)
	}
	return n
}

// kernelSources are the embedded .cu sources and .cuh headers.
func kernelSources(t *testing.T) (srcs, headers []kernels.CUDASource) {
	t.Helper()
	srcs, err := kernels.CUDASources()
	if err == nil {
		headers, err = kernels.CUDAHeaders()
	}
	if err != nil {
		t.Fatal(err)
	}
	return srcs, headers
}

// TestKernelsCompile compiles every kernels/*.cu source as the backend
// does on first use (nvrtcOptions, the .cuh headers), for compute
// capabilities 8.0 and 9.0, and checks that every kernel the package looks
// up by name is an entry of one of them. It needs only NVRTC, not a GPU:
//
//	WASMGPU_LIBNVRTC=/opt/nvrtc/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2 go test -run KernelsCompile ./runtime/device/cuda
//
// and skips where no NVRTC is found.
func TestKernelsCompile(t *testing.T) {
	n := openNVRTC(t)
	t.Logf("NVRTC %d.%d at %s", n.major, n.minor, n.path)
	srcs, headers := kernelSources(t)
	entry := regexp.MustCompile(`\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	for _, cc := range []string{"80", "90"} {
		defined := map[string]bool{}
		for _, src := range srcs {
			ptx, err := n.compile(src.Name, src.Text, headers, nvrtcOptions(cc))
			if err != nil {
				t.Errorf("compute_%s: %v", cc, err)
				continue
			}
			for _, m := range entry.FindAllStringSubmatch(string(ptx), -1) {
				defined[m[1]] = true
			}
		}
		for _, name := range kernelNamesUsed(t) {
			if !defined[name] {
				t.Errorf("compute_%s: the backend looks up kernel %s, which no kernels/*.cu source defines", cc, name)
			}
		}
	}
}

// kernelNamesUsed lists every kernel the package looks up: the LLM ops'
// table (llmKernels.refs) and each literal Kernel("name") in its non-test
// Go files.
func kernelNamesUsed(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range (&llmKernels{}).refs() {
		seen[r.name] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`\.Kernel\("([A-Za-z0-9_]+)"\)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestKernelsResources compiles every source to sm_90 machine code with
// ptxas's resource report (what costs no device time: registers, shared
// memory, stack, spills) and fails if a kernel spills registers to local
// memory, which would make it far slower than designed. The report goes to
// the test log. NVRTC only, as TestKernelsCompile.
func TestKernelsResources(t *testing.T) {
	n := openNVRTC(t)
	srcs, headers := kernelSources(t)
	opts := []string{"--gpu-architecture=sm_90", "--ptxas-options=-v"}
	var rows []string
	for _, src := range srcs {
		prog, err := n.program(src.Name, src.Text, headers, opts)
		if err != nil {
			t.Errorf("sm_90: %v", err)
			continue
		}
		log := n.log(prog)
		call(n.nvrtcDestroyProgram, uintptr(unsafe.Pointer(&prog)))
		rs, err := parsePtxasReport(log)
		if err != nil {
			t.Errorf("%s: %v\n%s", src.Name, err, log)
			continue
		}
		for _, r := range rs {
			rows = append(rows, r.String())
			if r.spillStores > 0 || r.spillLoads > 0 {
				t.Errorf("%s: %s spills registers (%d bytes stored, %d loaded)", src.Name, r.name, r.spillStores, r.spillLoads)
			}
		}
	}
	sort.Strings(rows)
	t.Logf("ptxas, sm_90 (NVRTC %d.%d):\n%s", n.major, n.minor, strings.Join(rows, "\n"))
}

// kernelResources is ptxas's report of one entry function.
type kernelResources struct {
	name                           string
	registers, smem, stack         int
	spillStores, spillLoads        int
	haveUsage, haveSpill, isKernel bool
}

func (r kernelResources) String() string {
	return fmt.Sprintf("%-28s %3d registers %6d B smem %4d B stack %d/%d B spilled", r.name, r.registers, r.smem, r.stack, r.spillStores, r.spillLoads)
}

// parsePtxasReport reads ptxas -v output: per entry function its
// "Compiling entry function 'f'" line, its "Function properties for f"
// line followed by the stack and spill line, and its "Used N registers"
// line. Functions that are not entries (called subroutines) are skipped.
func parsePtxasReport(log string) ([]kernelResources, error) {
	var (
		out     []kernelResources
		cur     *kernelResources
		props   string
		entryRe = regexp.MustCompile(`Compiling entry function '([^']+)'`)
		propsRe = regexp.MustCompile(`Function properties for (\S+)`)
		spillRe = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
		usedRe  = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
		byName  = map[string]int{}
	)
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	for _, line := range strings.Split(log, "\n") {
		switch {
		case entryRe.MatchString(line):
			name := entryRe.FindStringSubmatch(line)[1]
			out = append(out, kernelResources{name: name, isKernel: true})
			byName[name] = len(out) - 1
			cur = &out[len(out)-1]
		case propsRe.MatchString(line):
			props = propsRe.FindStringSubmatch(line)[1]
		case spillRe.MatchString(line):
			m := spillRe.FindStringSubmatch(line)
			if i, ok := byName[props]; ok {
				r := &out[i]
				r.stack, r.spillStores, r.spillLoads, r.haveSpill = atoi(m[1]), atoi(m[2]), atoi(m[3]), true
			}
		case usedRe.MatchString(line) && cur != nil:
			m := usedRe.FindStringSubmatch(line)
			cur.registers, cur.haveUsage = atoi(m[1]), true
			if m[2] != "" {
				cur.smem = atoi(m[2])
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no entry function in the ptxas report")
	}
	for _, r := range out {
		if !r.haveUsage || !r.haveSpill {
			return nil, fmt.Errorf("ptxas report incomplete for %s", r.name)
		}
	}
	return out, nil
}

// TestCompileError checks that a compile error carries NVRTC's log. NVRTC
// only, as TestKernelsCompile.
func TestCompileError(t *testing.T) {
	n := openNVRTC(t)
	_, err := n.compile("broken.cu", "extern \"C\" __global__ void k() { undeclared = 1; }", nil, nvrtcOptions("90"))
	var e *Error
	if !errors.As(err, &e) || e.Lib != "nvrtc" || !strings.Contains(e.Log, "undeclared") {
		t.Fatalf("compile error = %v", err)
	}
	t.Logf("%v", err)
	_, err = n.compile("o3.cu", "extern \"C\" __global__ void k() {}", nil, []string{"-O3"})
	t.Logf("-O3: %v", err)
	_, err = n.compile("inc.cu", "#include \"absent.cuh\"\n", nil, nvrtcOptions("90"))
	if !errors.As(err, &e) || !strings.Contains(e.Log, "absent.cuh") {
		t.Errorf("missing header: %v", err)
	}
}

// TestPTXCache checks that a second compile of a source comes from the
// disk cache, byte for byte. NVRTC only.
func TestPTXCache(t *testing.T) {
	n := openNVRTC(t)
	t.Setenv("WASMGPU_PTX_CACHE", t.TempDir())
	hs := []kernels.CUDASource{{Name: "one.cuh", Text: "#define ONE 1.f\n"}}
	src := "#include \"one.cuh\"\nextern \"C\" __global__ void cached_k(float* p) { p[threadIdx.x] = ONE; }"
	opts := nvrtcOptions("90")
	ptx1, hit1, err := n.compileCached("cached.cu", src, hs, opts, "90")
	if err != nil {
		t.Fatal(err)
	}
	ptx2, hit2, err := n.compileCached("cached.cu", src, hs, opts, "90")
	if err != nil {
		t.Fatal(err)
	}
	if hit1 || !hit2 || string(ptx1) != string(ptx2) || ptx2[len(ptx2)-1] != 0 {
		t.Errorf("first hit %v, second hit %v, same PTX %v", hit1, hit2, string(ptx1) == string(ptx2))
	}
}
