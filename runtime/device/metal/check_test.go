package metal

import (
	"math"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func TestCheckGemm(t *testing.T) {
	const n = 8
	l := uint64(n * n * 4)
	a := device.Span{Off: 4, Len: l}
	b := device.Span{Off: a.End(), Len: l}
	c := device.Span{Off: b.End() + 8, Len: l}
	size := c.End()
	if m, nn, k, err := checkGemm(size, a, b, c, n, n, n); err != nil || m != n || nn != n || k != n {
		t.Fatalf("valid call: %d %d %d %v", m, nn, k, err)
	}
	for _, tc := range []struct {
		name    string
		size    uint64
		a, b, c device.Span
		m, n, k int
		want    string
	}{
		{"past size", size - 4, a, b, c, n, n, n, "outside memory"},
		{"wrapping span", size, device.Span{Off: math.MaxUint64 - 3, Len: l}, b, c, n, n, n, "outside memory"},
		{"overlap", size, a, b, device.Span{Off: b.Off + 4, Len: l}, n, n, n, "overlaps"},
		{"short", size, device.Span{Off: a.Off, Len: l - 4}, b, c, n, n, n, "want 256"},
		{"long", size, a, device.Span{Off: b.Off, Len: l + 4}, c, n, n, n, "want 256"},
		{"misaligned", size, a, b, device.Span{Off: c.Off + 1, Len: l}, n, n, n, "multiple of 4"},
		{"zero", size, a, b, c, n, 0, n, "positive"},
		{"negative", size, a, b, c, -n, n, n, "positive"},
		{"huge", math.MaxUint64, a, b, c, math.MaxInt, math.MaxInt, 1, "elements"},
		{"huge product", math.MaxUint64, a, b, c, 1 << 20, 1 << 20, 1 << 13, "elements"},
	} {
		_, _, _, err := checkGemm(tc.size, tc.a, tc.b, tc.c, tc.m, tc.n, tc.k)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestMSLVersionFor(t *testing.T) {
	for _, tc := range []struct {
		product      string
		major, minor uint
		fail         bool
	}{
		{"26.1", 3, 0, false}, {"15.3.1", 3, 0, false}, {"13.0", 3, 0, false},
		{"12.7.6", 2, 4, false}, {"", 3, 0, false}, {"11.7", 0, 0, true},
	} {
		major, minor, err := mslVersionFor(tc.product)
		if (err != nil) != tc.fail || major != tc.major || minor != tc.minor {
			t.Errorf("mslVersionFor(%q) = %d.%d, %v", tc.product, major, minor, err)
		}
	}
}

// TestMetalSource checks, on any system, that every kernel the backend
// builds a pipeline for is in the embedded MSL source.
func TestMetalSource(t *testing.T) {
	src, err := kernels.MetalSource()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernels.MetalKernels {
		if !strings.Contains(src, "kernel void "+name+"(") {
			t.Errorf("kernel %q not found in kernels.MetalSource", name)
		}
	}
}
