package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/conformance"
)

// Tests in this file need a GPU and skip without one.

var (
	sharedOnce sync.Once
	sharedDev  *Device
	sharedErr  error
)

// gpu returns a Device shared by the tests, or skips the test.
func gpu(t testing.TB) *Device {
	t.Helper()
	sharedOnce.Do(func() { sharedDev, sharedErr = Open() })
	if errors.Is(sharedErr, device.ErrNoDevice) {
		t.Skipf("no CUDA device: run on a GPU machine, see README (%v)", sharedErr)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDev
}

// f32 views n float32s of b at byte offset off.
func f32(b []byte, off uint64, n int) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[off])), n)
}

// problem is one GEMM's inputs, its float64 reference and its layout in a
// linear memory (offsets 256-byte aligned).
type problem struct {
	m, n, k int
	a, b    []float32
	ref     []float64
	sa, sb  device.Span
	sc      device.Span
	size    uint64
}

func newProblem(m, n, k int, seed uint64) *problem {
	r := rand.New(rand.NewPCG(seed, 1))
	p := &problem{m: m, n: n, k: k, a: make([]float32, m*k), b: make([]float32, k*n), ref: make([]float64, m*n)}
	for i := range p.a {
		p.a[i] = r.Float32() - 0.5
	}
	for i := range p.b {
		p.b[i] = r.Float32() - 0.5
	}
	row := make([]float64, n)
	for i := range m {
		clear(row)
		for l := range k {
			ail := float64(p.a[i*k+l])
			for j, bj := range p.b[l*n : l*n+n] {
				row[j] += ail * float64(bj)
			}
		}
		copy(p.ref[i*n:], row)
	}
	align := func(x uint64) uint64 { return (x + 255) &^ 255 }
	p.sa = device.Span{Off: 4096, Len: uint64(m*k) * 4}
	p.sb = device.Span{Off: align(p.sa.End()), Len: uint64(k*n) * 4}
	p.sc = device.Span{Off: align(p.sb.End()), Len: uint64(m*n) * 4}
	p.size = p.sc.End()
	return p
}

// load writes A and B into mem and poisons C with NaN.
func (p *problem) load(mem []byte) {
	copy(f32(mem, p.sa.Off, len(p.a)), p.a)
	copy(f32(mem, p.sb.Off, len(p.b)), p.b)
	c := f32(mem, p.sc.Off, p.m*p.n)
	for i := range c {
		c[i] = float32(math.NaN())
	}
}

// relErr is max|C−R| / max|R|; NaN anywhere gives +Inf.
func (p *problem) relErr(mem []byte) float64 {
	c := f32(mem, p.sc.Off, p.m*p.n)
	var maxd, maxr float64
	for i, r := range p.ref {
		v := float64(c[i])
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		maxd = max(maxd, math.Abs(v-r))
		maxr = max(maxr, math.Abs(r))
	}
	return maxd / maxr
}

// runMatMul runs p on a fresh Memory of mode and returns the relative error
// and the report.
func runMatMul(t *testing.T, d *Device, mode device.Mode, p *problem) (float64, device.KernelReport, *Memory) {
	t.Helper()
	dm, err := d.NewMemory(mode, p.size+1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dm.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := dm.Grow(p.size); err != nil {
		t.Fatal(err)
	}
	p.load(dm.Bytes())
	res, isRes := dm.(*ResidentMemory)
	if isRes {
		for _, s := range []device.Span{p.sa, p.sb, p.sc} {
			if err := res.Upload(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := dm.MatMul(p.sa, p.sb, p.sc, p.m, p.n, p.k)
	if err != nil {
		t.Fatal(err)
	}
	if isRes {
		if err := res.Download(p.sc); err != nil {
			t.Fatal(err)
		}
	}
	return p.relErr(dm.Bytes()), rep, asMemory(dm)
}

// asMemory returns the *Memory behind a device.Memory of this package.
func asMemory(dm device.Memory) *Memory {
	if r, ok := dm.(*ResidentMemory); ok {
		return r.Memory
	}
	return dm.(*Memory)
}

func TestInfo(t *testing.T) {
	d := gpu(t)
	info := d.Info()
	t.Logf("%s | %s", info.Name, info.Driver)
	for _, k := range []string{"compute_capability", "memory_total_bytes", "pci_bus_id", "math", "libcuda", "libnvrtc", "libcublas", "unified_addressing"} {
		if info.Props[k] == "" {
			t.Errorf("Props[%q] missing", k)
		}
	}
	if info.Backend != "cuda" || info.Name == "" || !strings.Contains(info.Driver, "CUDA") || strings.HasPrefix(info.Driver, "for") {
		t.Errorf("info = %+v", info)
	}
	if got := d.Modes(); len(got) != 4 || got[0] != device.Copy || got[3] != device.Resident {
		t.Errorf("Modes = %v", got)
	}
	for k, v := range info.Props {
		t.Logf("  %s = %s", k, v)
	}
}

func TestMatMulModes(t *testing.T) {
	d := gpu(t)
	for _, n := range []int{64, 257, 1024} {
		p := newProblem(n, n, n, uint64(n))
		for _, mode := range d.Modes() {
			t.Run(string(mode)+"/"+itoa(n), func(t *testing.T) {
				e, rep, m := runMatMul(t, d, mode, p)
				t.Logf("rel err %.2e, gpu %v, addrs %#x, stats %+v", e, rep.DeviceTime, rep.Addrs, m.Stats())
				if !(e < 1e-5) {
					t.Errorf("max|C-R|/max|R| = %.3g, want < 1e-5", e)
				}
				if rep.DeviceTime <= 0 || len(rep.Addrs) != 3 {
					t.Errorf("report %+v", rep)
				}
				base := uintptr(unsafe.Pointer(&m.Bytes()[0]))
				want := []uintptr{base + uintptr(p.sa.Off), base + uintptr(p.sb.Off), base + uintptr(p.sc.Off)}
				zeroCopy := mode == device.Mapped || mode == device.Managed
				for i := range want {
					if same := rep.Addrs[i] == want[i]; same != zeroCopy {
						t.Errorf("operand %d: device address %#x, base+offset %#x, zero-copy mode %v", i, rep.Addrs[i], want[i], zeroCopy)
					}
				}
				st := m.Stats()
				switch mode {
				case device.Copy:
					if st.CopiedBytes != p.sa.Len+p.sb.Len+p.sc.Len || st.DeviceBytes == 0 {
						t.Errorf("copy stats %+v", st)
					}
				case device.Mapped:
					if st.PinnedBytes < p.size || st.CopiedBytes != 0 {
						t.Errorf("mapped stats %+v", st)
					}
				case device.Managed:
					if st.CopiedBytes != 0 || st.DeviceBytes != 0 {
						t.Errorf("managed stats %+v", st)
					}
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestTiledMatchesCuBLAS(t *testing.T) {
	d := gpu(t)
	for _, mode := range []device.Mode{device.Managed, device.Mapped, device.Resident} {
		p := newProblem(257, 130, 99, 7)
		dm, err := d.NewMemory(mode, p.size)
		if err != nil {
			t.Fatal(err)
		}
		defer dm.Close()
		if err := dm.Grow(p.size); err != nil {
			t.Fatal(err)
		}
		p.load(dm.Bytes())
		m := asMemory(dm)
		if mode == device.Resident {
			if err := dm.(device.Residenter).Upload(device.Span{Off: 0, Len: p.size}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.matmulTiled(p.sa, p.sb, p.sc, p.m, p.n, p.k); err != nil {
			t.Fatal(err)
		}
		if mode == device.Resident {
			if err := dm.(device.Residenter).Download(p.sc); err != nil {
				t.Fatal(err)
			}
		}
		if e := p.relErr(dm.Bytes()); !(e < 1e-5) {
			t.Errorf("%s: tiled kernel rel err %.3g", mode, e)
		}
	}
	t.Logf("kernels: %s, load %s ms", d.Info().Props["kernels_ptx_cache"], d.Info().Props["kernels_load_ms"])
}

func TestTF32Option(t *testing.T) {
	gpu(t) // skip without a GPU
	d, err := OpenWith(Options{TF32: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Info().Props["math"] != "tf32" {
		t.Errorf("Props[math] = %q", d.Info().Props["math"])
	}
	p := newProblem(512, 512, 512, 3)
	e, _, _ := runMatMul(t, d, device.Resident, p)
	t.Logf("TF32 rel err %.2e (fp32 is < 1e-5)", e)
	if !(e < 1e-2) {
		t.Errorf("TF32 rel err %.3g, want < 1e-2", e)
	}
}

func TestPinnedCopy(t *testing.T) {
	gpu(t)
	d, err := OpenWith(Options{PinnedCopy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := newProblem(300, 200, 100, 9)
	e, _, m := runMatMul(t, d, device.Copy, p)
	if !(e < 1e-5) {
		t.Errorf("rel err %.3g", e)
	}
	if st := m.Stats(); st.PinnedBytes < p.size || st.CopiedBytes == 0 {
		t.Errorf("stats %+v", st)
	}
	if d.Info().Props["copy_pinned"] != "true" {
		t.Error("copy_pinned not recorded")
	}
}

func TestSpanErrors(t *testing.T) {
	d := gpu(t)
	for _, mode := range d.Modes() {
		t.Run(string(mode), func(t *testing.T) {
			dm, err := d.NewMemory(mode, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			n := 16
			sz := uint64(n * n * 4)
			a, b, c := device.Span{Off: 0, Len: sz}, device.Span{Off: sz, Len: sz}, device.Span{Off: 2 * sz, Len: sz}
			if _, err := dm.MatMul(a, b, c, n, n, n); err == nil {
				t.Error("matmul before Grow accepted")
			}
			if err := dm.Grow(3 * sz); err != nil {
				t.Fatal(err)
			}
			if _, err := dm.MatMul(a, b, c, n, n, n); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name    string
				a, b, c device.Span
				m       int
				want    string
			}{
				{"C beyond size", a, b, device.Span{Off: 3*sz - 4, Len: sz}, n, "outside memory"},
				{"offset wraps", device.Span{Off: math.MaxUint64 - 8, Len: sz}, b, c, n, "outside memory"},
				{"C overlaps A", a, b, device.Span{Off: sz / 2, Len: sz}, n, "overlaps"},
				{"A too short", device.Span{Off: 0, Len: sz - 4}, b, c, n, "shorter"},
				{"zero rows", a, b, c, 0, "must be in"},
			} {
				if _, err := dm.MatMul(tc.a, tc.b, tc.c, tc.m, n, n); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
				}
			}
			if err := dm.Grow(2 << 20); err == nil {
				t.Error("Grow beyond max accepted")
			}
			if err := dm.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := dm.MatMul(a, b, c, n, n, n); !errors.Is(err, errClosed) {
				t.Errorf("matmul after Close: %v", err)
			}
			if err := dm.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
	if _, err := d.NewMemory(device.ZeroCopy, 1<<20); !errors.Is(err, device.ErrUnsupportedMode) {
		t.Errorf("zerocopy: %v, want ErrUnsupportedMode", err)
	}
	_, total, err := d.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.NewMemory(device.Managed, total+1<<30); err == nil || !strings.Contains(err.Error(), "free on the device") {
		t.Errorf("managed memory larger than the card: %v", err)
	}
}

func TestMappedGrowAcrossRegistrations(t *testing.T) {
	d := gpu(t)
	dm, err := d.NewMemory(device.Mapped, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	m := dm.(*Memory)
	if err := dm.Grow(1 << 20); err != nil {
		t.Fatal(err)
	}
	if err := dm.Grow(4 << 20); err != nil {
		t.Fatal(err)
	}
	if len(m.pieces) != 2 || m.Stats().PinnedBytes != 4<<20 {
		t.Fatalf("pieces %+v, stats %+v", m.pieces, m.Stats())
	}
	for _, pc := range m.pieces {
		t.Logf("registration off %d len %d: device %#x host %#x", pc.off, pc.len, pc.dev, uint64(m.base)+pc.off)
	}
	// A (1 MiB) straddles the first registration's end; B and C lie beyond it.
	p := newProblem(512, 512, 512, 11)
	p.sa.Off = 512 << 10
	p.sb.Off = p.sa.End()
	p.sc.Off = p.sb.End()
	p.load(dm.Bytes())
	rep, err := dm.MatMul(p.sa, p.sb, p.sc, p.m, p.n, p.k)
	if err != nil {
		t.Fatal(err)
	}
	if e := p.relErr(dm.Bytes()); !(e < 1e-5) {
		t.Errorf("rel err across registrations %.3g", e)
	}
	if rep.Addrs[0] != m.base+uintptr(p.sa.Off) {
		t.Errorf("A at %#x, want base+off %#x", rep.Addrs[0], m.base+uintptr(p.sa.Off))
	}
}

func TestManagedFreshPagesAreZero(t *testing.T) {
	b := conformance.Memory(t, gpu(t), device.Managed, 64<<20).Bytes()
	for i := 0; i < len(b); i += 4093 {
		if b[i] != 0 {
			t.Fatalf("byte %d of fresh managed memory is %d", i, b[i])
		}
	}
}

func TestCloseReleases(t *testing.T) {
	d := gpu(t)
	p := newProblem(256, 256, 256, 5)
	const size = 32 << 20
	cycle := func(mode device.Mode) {
		dm, err := d.NewMemory(mode, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := dm.Grow(size); err != nil {
			t.Fatal(err)
		}
		p.load(dm.Bytes())
		if _, err := dm.MatMul(p.sa, p.sb, p.sc, p.m, p.n, p.k); err != nil {
			t.Fatal(err)
		}
		if err := dm.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range d.Modes() {
		cycle(mode) // warm: cuBLAS and the driver allocate their own state once
		free0, _, err := d.MemInfo()
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			cycle(mode)
		}
		free1, _, err := d.MemInfo()
		if err != nil {
			t.Fatal(err)
		}
		lost := int64(free0) - int64(free1)
		t.Logf("%s: free before %d, after 50 cycles %d (lost %d bytes)", mode, free0, free1, lost)
		if lost > 32<<20 {
			t.Errorf("%s: 50 NewMemory/Close cycles lost %d MiB of device memory", mode, lost>>20)
		}
		if v, p, g := d.liveDevice.Load(), d.livePinned.Load(), d.liveManaged.Load(); v != 0 || p != 0 || g != 0 {
			t.Errorf("%s: live device %d, pinned %d, managed %d after Close", mode, v, p, g)
		}
	}
	d.mu.Lock()
	open := d.memories
	d.mu.Unlock()
	if open != 0 {
		t.Errorf("%d memories still counted open", open)
	}
}

func TestDeviceCloseRefusesOpenMemory(t *testing.T) {
	gpu(t)
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	dm, err := d.NewMemory(device.Copy, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err == nil {
		t.Error("device Close with an open memory succeeded")
	}
	dm.Close()
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if _, err := d.NewMemory(device.Copy, 1<<20); err == nil {
		t.Error("NewMemory after Close succeeded")
	}
}

func TestUnknownKernel(t *testing.T) {
	if _, err := gpu(t).Kernel("no_such_kernel"); err == nil {
		t.Error("unknown kernel found")
	}
}

func TestLaunchErrors(t *testing.T) {
	d := gpu(t)
	k, err := d.Kernel("nop")
	if err != nil {
		t.Fatal(err)
	}
	dm, err := d.NewMemory(device.Resident, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	m := dm.(*ResidentMemory).Memory
	err = m.Launch(k, Dim3{X: 1}, Dim3{X: 4096}, 0) // more threads than a block may have
	var e *Error
	if !errors.As(err, &e) || e.Call != "cuLaunchKernel" {
		t.Errorf("oversized block: %v", err)
	}
	t.Logf("%v", err)
	if err := m.Launch(k, Dim3{X: 1}, Dim3{X: 32}, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestMeasureBandwidth(t *testing.T) {
	d := gpu(t)
	bw, err := d.MeasureBandwidth()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device read %.0f GB/s, pinned HtoD %.1f GB/s, mapped read %.1f GB/s (%d MiB)", bw.DeviceRead, bw.HtoDPinned, bw.MappedRead, bw.Bytes>>20)
	if bw.DeviceRead <= 0 || bw.HtoDPinned <= 0 || bw.MappedRead <= 0 {
		t.Errorf("%+v", bw)
	}
	if d.Info().Props["bw_device_read_gbs"] == "" {
		t.Error("bandwidth not recorded in Props")
	}
}
