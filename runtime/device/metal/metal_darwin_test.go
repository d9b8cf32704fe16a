//go:build darwin

package metal

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// openOrSkip opens the Metal device or skips the test when the machine has
// none (a Mac VM without GPU, a CI runner).
func openOrSkip(t *testing.T) *Device {
	t.Helper()
	d, err := Open()
	if errors.Is(err, device.ErrNoDevice) {
		t.Skipf("no Metal device: %v", err)
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Device.Close: %v", err)
		}
	})
	return d
}

// f32 is a float32 view of n elements at byte offset off.
func f32(b []byte, off uint64, n int) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[off])), n)
}

// layout places A (n×n), B and C at 4-byte-aligned, non-page-aligned offsets
// with gaps between them, and returns the spans and the bytes in use.
func layout(n int) (a, b, c device.Span, size uint64) {
	l := uint64(n) * uint64(n) * 4
	a = device.Span{Off: 4, Len: l}
	b = device.Span{Off: a.End() + 4, Len: l}
	c = device.Span{Off: b.End() + 12, Len: l}
	return a, b, c, c.End() + 4
}

// refGemm is C = A·B in float64.
func refGemm(m, n, k int, a, b []float32) []float64 {
	r := make([]float64, m*n)
	for i := range m {
		row := r[i*n : (i+1)*n]
		for p := range k {
			av := float64(a[i*k+p])
			for j, bv := range b[p*n : (p+1)*n] {
				row[j] += av * float64(bv)
			}
		}
	}
	return r
}

// relErr is max|C−R| / max|R|.
func relErr(c []float32, r []float64) float64 {
	var maxDiff, maxRef float64
	for i, rv := range r {
		maxDiff = math.Max(maxDiff, math.Abs(float64(c[i])-rv))
		maxRef = math.Max(maxRef, math.Abs(rv))
	}
	if maxRef == 0 {
		return maxDiff
	}
	return maxDiff / maxRef
}

func TestInfo(t *testing.T) {
	d := openOrSkip(t)
	info := d.Info()
	if info.Backend != "metal" || info.Name == "" {
		t.Errorf("Info = %+v; want backend metal and a GPU name", info)
	}
	for _, k := range []string{"unified_memory", "recommended_max_working_set_bytes", "max_buffer_length_bytes", "msl_version", "chip", "os"} {
		if info.Props[k] == "" {
			t.Errorf("Info.Props[%q] is empty", k)
		}
	}
	t.Logf("%s, %s: %v", info.Name, info.Driver, info.Props)
	if got := d.Modes(); len(got) != 2 || got[0] != device.ZeroCopy || got[1] != device.Copy {
		t.Errorf("Modes = %v", got)
	}
	if _, err := d.NewMemory(device.Managed, 1<<20); !errors.Is(err, device.ErrUnsupportedMode) {
		t.Errorf("NewMemory(managed) error = %v; want ErrUnsupportedMode", err)
	}
}

func TestMatMul(t *testing.T) {
	d := openOrSkip(t)
	for _, n := range []int{64, 257, 1024} {
		a, b, c, size := layout(n)
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		A, B := make([]float32, n*n), make([]float32, n*n)
		for i := range A {
			A[i], B[i] = rng.Float32()*2-1, rng.Float32()*2-1
		}
		ref := refGemm(n, n, n, A, B)
		for _, mode := range d.Modes() {
			mem, err := d.NewMemory(mode, 2*size)
			if err != nil {
				t.Fatalf("n=%d %s: NewMemory: %v", n, mode, err)
			}
			if err := mem.Grow(size); err != nil {
				t.Fatalf("n=%d %s: Grow: %v", n, mode, err)
			}
			bytes := mem.Bytes()
			copy(f32(bytes, a.Off, n*n), A)
			copy(f32(bytes, b.Off, n*n), B)
			C := f32(bytes, c.Off, n*n)

			kernels := map[string]func(a, b, c device.Span, m, n, k int) (device.KernelReport, error){
				"mps":   mem.MatMul,
				"naive": mem.(*Memory).MatMulNaive,
			}
			for name, run := range kernels {
				clear(C)
				rep, err := run(a, b, c, n, n, n)
				if err != nil {
					t.Fatalf("n=%d %s %s: %v", n, mode, name, err)
				}
				if e := relErr(C, ref); !(e < 1e-5) {
					t.Errorf("n=%d %s %s: max|C−R|/max|R| = %.3g, want < 1e-5", n, mode, name, e)
				}
				if len(rep.Addrs) != 3 || rep.DeviceTime <= 0 {
					t.Errorf("n=%d %s %s: report %+v; want 3 addrs and a GPU time", n, mode, name, rep)
				}
				t.Logf("n=%d %s %s: GPU %v", n, mode, name, rep.DeviceTime)
			}

			st := mem.Stats()
			want := 2 * 3 * uint64(n) * uint64(n) * 4 // two calls, A+B in, C out
			switch mode {
			case device.ZeroCopy:
				if st.CopiedBytes != 0 || st.StagingBytes != 0 {
					t.Errorf("n=%d zerocopy: stats %+v; want no copies or staging", n, st)
				}
			case device.Copy:
				if st.CopiedBytes != want || st.StagingBytes < 3*a.Len {
					t.Errorf("n=%d copy: stats %+v; want %d copied and ≥ %d staged", n, st, want, 3*a.Len)
				}
			}
			if st.KernelsLaunch != 2 {
				t.Errorf("n=%d %s: %d kernel launches, want 2", n, mode, st.KernelsLaunch)
			}
			if err := mem.Close(); err != nil {
				t.Errorf("n=%d %s: Close: %v", n, mode, err)
			}
		}
	}
}

// TestZeroCopyAddrs is the zero-copy proof: the GPU's operand addresses are
// the linear memory's base plus the guest's offsets, a write by the host is
// seen by the next kernel with no upload, and both still hold after Grow
// replaces the no-copy buffer.
func TestZeroCopyAddrs(t *testing.T) {
	d := openOrSkip(t)
	const n = 32
	a, b, c, size := layout(n)
	mem, err := d.NewMemory(device.ZeroCopy, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := mem.Grow(size); err != nil {
		t.Fatal(err)
	}
	bytes := mem.Bytes()
	base := uintptr(unsafe.Pointer(&bytes[0]))
	if base%uintptr(region.PageSize) != 0 {
		t.Fatalf("base %#x is not page-aligned (%d)", base, region.PageSize)
	}
	A, B := f32(bytes, a.Off, n*n), f32(bytes, b.Off, n*n)
	for i := range A {
		A[i], B[i] = 1, float32(i%7)
	}
	// check runs C = A·B and compares C's first row with a float32 sum; the
	// values are small integers, so every order of summation is exact.
	check := func(step string, a, b, c device.Span) {
		t.Helper()
		rep, err := mem.MatMul(a, b, c, n, n, n)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for i, s := range []device.Span{a, b, c} {
			if want := base + uintptr(s.Off); rep.Addrs[i] != want {
				t.Errorf("%s: operand %d at %#x, want base+offset %#x", step, i, rep.Addrs[i], want)
			}
		}
		CC := f32(bytes, c.Off, n*n)
		for j := range n { // C[0][j] = Σ_p A[0][p]·B[p][j]
			var want float32
			for p := range n {
				want += f32(bytes, a.Off, n*n)[p] * f32(bytes, b.Off, n*n)[p*n+j]
			}
			if CC[j] != want {
				t.Fatalf("%s: C[0][%d] = %v, want %v", step, j, CC[j], want)
			}
		}
	}
	check("first", a, b, c)
	for i := range A { // the host writes the guest's A in place
		A[i] = 2
	}
	check("after host write", a, b, c)

	// Grow well past the first buffer and use spans beyond it.
	big := uint64(32 << 20)
	if err := mem.Grow(big); err != nil {
		t.Fatalf("Grow(%d): %v", big, err)
	}
	if got := uintptr(unsafe.Pointer(&mem.Bytes()[0])); got != base {
		t.Fatalf("base moved on Grow: %#x → %#x", base, got)
	}
	far := big - 3*a.Len - 64
	a2 := device.Span{Off: far, Len: a.Len}
	b2 := device.Span{Off: a2.End(), Len: b.Len}
	c2 := device.Span{Off: b2.End() + 16, Len: c.Len}
	copy(f32(bytes, a2.Off, n*n), A)
	copy(f32(bytes, b2.Off, n*n), B)
	check("after grow", a2, b2, c2)
}

func TestSpanErrors(t *testing.T) {
	d := openOrSkip(t)
	const n = 16
	a, b, c, size := layout(n)
	for _, mode := range d.Modes() {
		mem, err := d.NewMemory(mode, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Grow(size); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			a, b, c device.Span
			m, n, k int
			want    string
		}{
			{"C past size", a, b, device.Span{Off: size - 4, Len: c.Len}, n, n, n, "outside memory"},
			{"A huge offset", device.Span{Off: math.MaxUint64 - 8, Len: a.Len}, b, c, n, n, n, ""},
			{"C overlaps A", a, b, device.Span{Off: a.Off + 4, Len: c.Len}, n, n, n, "overlaps"},
			{"short A", device.Span{Off: a.Off, Len: a.Len - 4}, b, c, n, n, n, "want"},
			{"misaligned B", a, device.Span{Off: b.Off + 2, Len: b.Len}, c, n, n, n, "multiple of 4"},
			{"zero rows", a, b, c, 0, n, n, "positive"},
			{"negative k", a, b, c, n, n, -1, "positive"},
		} {
			_, err := mem.MatMul(tc.a, tc.b, tc.c, tc.m, tc.n, tc.k)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s: error %v; want one containing %q", mode, tc.name, err, tc.want)
			}
		}
		if err := mem.Grow(uint64(len(mem.Bytes())) + 1); err == nil {
			t.Errorf("%s: Grow past the reservation succeeded", mode)
		}
		if err := d.Close(); err == nil {
			t.Errorf("%s: Device.Close with an open Memory succeeded", mode)
		}
		if err := mem.Close(); err != nil {
			t.Errorf("%s: Close: %v", mode, err)
		}
		if _, err := mem.MatMul(a, b, c, n, n, n); err == nil {
			t.Errorf("%s: MatMul after Close succeeded", mode)
		}
		if err := mem.Close(); err != nil {
			t.Errorf("%s: second Close: %v", mode, err)
		}
	}
}

// TestMemoryCycles makes and closes 50 Memories, each used once, to catch
// leaked or double-released objects (run it under MTL_DEBUG_LAYER=1 too).
func TestMemoryCycles(t *testing.T) {
	d := openOrSkip(t)
	const n = 8
	a, b, c, size := layout(n)
	for i := range 50 {
		mode := d.Modes()[i%2]
		mem, err := d.NewMemory(mode, 4<<20)
		if err != nil {
			t.Fatalf("cycle %d: NewMemory: %v", i, err)
		}
		if err := mem.Grow(size); err != nil {
			t.Fatalf("cycle %d: Grow: %v", i, err)
		}
		bytes := mem.Bytes()
		for j := range n * n {
			f32(bytes, a.Off, n*n)[j] = 1
			f32(bytes, b.Off, n*n)[j] = float32(i)
		}
		if _, err := mem.MatMul(a, b, c, n, n, n); err != nil {
			t.Fatalf("cycle %d %s: MatMul: %v", i, mode, err)
		}
		if got, want := f32(bytes, c.Off, n*n)[n*n-1], float32(n*i); got != want {
			t.Fatalf("cycle %d %s: C[last] = %v, want %v", i, mode, got, want)
		}
		if err := mem.Close(); err != nil {
			t.Fatalf("cycle %d: Close: %v", i, err)
		}
	}
}
