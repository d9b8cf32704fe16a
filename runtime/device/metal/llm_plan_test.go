package metal

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
)

// These tests run on every system: they hold the LLM ops' pure decisions
// and the MSL source to what the darwin code expects.

func TestDTSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"BF16": "bf16", "F16": "f16", "F32": "f32", "bf16": "bf16", "f16": "f16", "f32": "f32", "F64": "", "": "",
	} {
		if got := dtSuffix(in); got != want {
			t.Errorf("dtSuffix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCeilDiv(t *testing.T) {
	for _, c := range [][3]uint{{0, 4, 0}, {1, 4, 1}, {4, 4, 1}, {5, 4, 2}, {128256, 8, 16032}} {
		if got := ceilDiv(c[0], c[1]); got != c[2] {
			t.Errorf("ceilDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

func TestThreadsFor(t *testing.T) {
	for _, c := range []struct{ want, max, got uint }{
		{256, 1024, 256}, {1024, 1024, 1024}, {256, 200, 192}, {1024, 576, 576}, {256, 31, 0},
	} {
		got, err := threadsFor("k", c.want, c.max)
		if got != c.got || (err != nil) != (c.got == 0) {
			t.Errorf("threadsFor(%d, %d) = %d, %v; want %d", c.want, c.max, got, err, c.got)
		}
	}
}

func TestStagePlan(t *testing.T) {
	x := device.Span{Off: 4, Len: 100}
	y := device.Span{Off: 512, Len: 300}
	args := []operand.Operand{operand.In(x), operand.In(y), operand.Out(x)}
	offs, same, total := stagePlan(args)
	if offs[0] != 0 || offs[1] != 256 || offs[2] != 0 || total != 256+512 {
		t.Errorf("offsets %v total %d; want [0 256 0] and 768", offs, total)
	}
	if same[0] != -1 || same[1] != -1 || same[2] != 0 {
		t.Errorf("same = %v; want [-1 -1 0]", same)
	}
	if !args[0].In || !args[0].Out {
		t.Errorf("the shared region is not both read and written: %+v", args[0])
	}
	for i, o := range offs {
		if o%stageAlign != 0 {
			t.Errorf("operand %d at %d is not %d-aligned", i, o, stageAlign)
		}
	}
}

func TestBindOffset(t *testing.T) {
	for _, c := range []struct {
		off     uint64
		es      int
		aligned uint64
		elems   uint32
	}{{64, 2, 64, 0}, {66, 2, 64, 1}, {68, 4, 68, 0}, {4102, 2, 4100, 1}} {
		a, e := bindOffset(c.off, c.es)
		if a != c.aligned || e != c.elems || a%4 != 0 {
			t.Errorf("bindOffset(%d, %d) = %d, %d; want %d, %d", c.off, c.es, a, e, c.aligned, c.elems)
		}
	}
}

func TestCheckSpanSizes(t *testing.T) {
	ok := []operand.Operand{operand.In(device.Span{Off: 0, Len: maxSpanBytes})}
	if err := checkSpanSizes(ok); err != nil {
		t.Errorf("a span of 2^32-1 bytes: %v", err)
	}
	big := []operand.Operand{operand.In(device.Span{Off: 0, Len: 4}), operand.Out(device.Span{Off: 8, Len: 1 << 32})}
	if err := checkSpanSizes(big); err == nil || !strings.Contains(err.Error(), "32 bits") {
		t.Errorf("a span of 4 GiB: error %v", err)
	}
}

// TestMetalLLMSource checks that every kernel the backend builds a pipeline
// for is defined in llm.metal (the dtype variants through the LLM_DT macro
// and its three instantiations) and that MetalSource leaves the file out.
func TestMetalLLMSource(t *testing.T) {
	src, err := kernels.MetalLLMSource()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernels.MetalLLMKernels {
		base, sfx, _ := strings.Cut(name, "_")
		var want []string
		switch sfx {
		case "bf16", "f16", "f32":
			want = []string{"kernel void " + base + "_##S(", "LLM_DT(" + sfx + ", DT_" + strings.ToUpper(sfx) + ")"}
			if base == "rope" || base == "swiglu" || base == "add" || base == "argmax" {
				want = []string{"kernel void " + name + "("}
			}
		default:
			want = []string{"kernel void " + name + "("}
		}
		for _, w := range want {
			if !strings.Contains(src, w) {
				t.Errorf("kernel %s: %q not in %s", name, w, kernels.MetalLLMFile)
			}
		}
	}
	all, err := kernels.MetalSource()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(all, "// file: "+kernels.MetalLLMFile) {
		t.Errorf("MetalSource includes %s", kernels.MetalLLMFile)
	}
}

// TestLLMMetalSyntax parses llm.metal as C++14 with g++ and a shim of the
// MSL declarations it uses (testdata/mslshim): no Metal compiler runs off a
// Mac, and this catches syntax, name and type mistakes before one does.
func TestLLMMetalSyntax(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the shim is written for GNU g++")
	}
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++")
	}
	src, err := kernels.MetalLLMSource()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "llm.metal.cc")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	shim, err := filepath.Abs(filepath.Join("testdata", "mslshim"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gxx, "-std=c++14", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
		"-Wno-attributes", "-Wno-unused-parameter", "-I", shim, f).CombinedOutput()
	if err != nil {
		t.Fatalf("g++ -fsyntax-only: %v\n%s", err, out)
	}
}
