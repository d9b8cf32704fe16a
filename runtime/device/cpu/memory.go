package cpu

import (
	"fmt"
	"math/bits"
	"time"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// Memory is a linear memory on the cpu device.
type Memory struct {
	mode    device.Mode
	buf     []byte // the whole reservation
	size    uint64 // bytes in use
	staging []float32
	stats   device.Stats

	stop       *stopper // KernelLimits.Stop and Deadline, polled by the kernels' parallel loops
	maxScratch uint64   // KernelLimits.MaxScratch; 0: none
}

var _ device.Limiter = (*Memory)(nil)

// SetLimits bounds this Memory's kernels: they end early once l.Stop is set
// or l.Deadline passes (between chunks of their parallel loops, panicking
// with device.ErrStopped), and copy mode's staging may not grow past
// l.MaxScratch bytes.
func (m *Memory) SetLimits(l device.KernelLimits) {
	m.stop, m.maxScratch = newStopper(l), l.MaxScratch
}

// Mode reports the memory mode.
func (m *Memory) Mode() device.Mode { return m.mode }

// Bytes is the whole reservation.
func (m *Memory) Bytes() []byte { return m.buf }

// Size is the number of bytes in use.
func (m *Memory) Size() uint64 { return m.size }

// Grow records the bytes in use; the reservation is already mapped.
func (m *Memory) Grow(size uint64) error {
	if size > uint64(len(m.buf)) {
		return fmt.Errorf("cpu memory: grow to %d bytes exceeds the reservation of %d", size, len(m.buf))
	}
	m.size = size
	return nil
}

// Sync returns at once: cpu kernels are synchronous.
func (m *Memory) Sync() error { return nil }

// Stats reports staging bytes and copies.
func (m *Memory) Stats() device.Stats { return m.stats }

// Close unmaps the reservation.
func (m *Memory) Close() error {
	b := m.buf
	m.buf, m.size, m.staging = nil, 0, nil
	return region.Release(b)
}

// f32 returns a float32 view of span s; s must be in bounds and 4-byte aligned.
func (m *Memory) f32(s device.Span) ([]float32, error) {
	if s.Off%4 != 0 || s.Len%4 != 0 {
		return nil, fmt.Errorf("span [%d, +%d) is not float32-aligned", s.Off, s.Len)
	}
	if s.Len == 0 {
		return nil, nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&m.buf[s.Off])), s.Len/4), nil
}

// stage returns total float32s of staging space, growing the kept staging
// buffer when needed. Growing it past the Memory's MaxScratch panics with a
// *device.KernelStop (see device.KernelLimits).
func (m *Memory) stage(total int) []float32 {
	if cap(m.staging) < total {
		if m.maxScratch > 0 && uint64(total)*4 > m.maxScratch {
			panic(&device.KernelStop{Limit: "MaxScratch", Msg: fmt.Sprintf(
				"copy mode needs %d bytes of staging, more than the %d bytes of host scratch this memory may hold", uint64(total)*4, m.maxScratch)})
		}
		m.staging = nil // let the old buffer go before the new one is made
		m.staging = make([]float32, total)
		m.stats.StagingBytes = uint64(total) * 4
	}
	return m.staging[:total]
}

// matBytes returns the bytes of an r×c float32 matrix, or false if that
// does not fit 64 bits.
func matBytes(r, c int) (uint64, bool) {
	hi, lo := bits.Mul64(uint64(r), uint64(c))
	if hi != 0 || lo >= 1<<62 {
		return 0, false
	}
	return lo * 4, true
}

// gemmBlockWork is the multiply-adds of one block of MatMul's rows: the
// product runs block by block, so a Memory stopped mid-product (see
// SetLimits) leaves it within one block's time (a few milliseconds).
const gemmBlockWork = 1 << 26

// MatMul computes C = A·B with gonum's parallel sgemm.
func (m *Memory) MatMul(a, b, c device.Span, rows, cols, inner int) (device.KernelReport, error) {
	var rep device.KernelReport
	if rows <= 0 || cols <= 0 || inner <= 0 {
		return rep, fmt.Errorf("matmul: dimensions %d×%d×%d must be positive", rows, cols, inner)
	}
	need := func(s device.Span, r, c int, name string) error {
		want, ok := matBytes(r, c)
		if !ok {
			return fmt.Errorf("matmul: %s is %d×%d float32, more than 2^64 bytes", name, r, c)
		}
		if s.Len != want {
			return fmt.Errorf("matmul: %s span is %d bytes, want %d for %d×%d float32", name, s.Len, want, r, c)
		}
		return nil
	}
	if err := need(a, rows, inner, "A"); err != nil {
		return rep, err
	}
	if err := need(b, inner, cols, "B"); err != nil {
		return rep, err
	}
	if err := need(c, rows, cols, "C"); err != nil {
		return rep, err
	}
	if err := device.CheckSpans(m.size, []device.Span{a, b}, []device.Span{c}); err != nil {
		return rep, fmt.Errorf("matmul: %w", err)
	}
	A, err := m.f32(a)
	if err != nil {
		return rep, fmt.Errorf("matmul A: %w", err)
	}
	B, err := m.f32(b)
	if err != nil {
		return rep, fmt.Errorf("matmul B: %w", err)
	}
	C, err := m.f32(c)
	if err != nil {
		return rep, fmt.Errorf("matmul C: %w", err)
	}
	outC := C
	if m.mode == device.Copy {
		st := m.stage(len(A) + len(B) + len(C))
		sa, sb, sc := st[:len(A)], st[len(A):len(A)+len(B)], st[len(A)+len(B):]
		copy(sa, A)
		copy(sb, B)
		A, B, C = sa, sb, sc
		m.stats.CopiedBytes += a.Len + b.Len
	}
	start := time.Now()
	block := max(1, gemmBlockWork/(cols*inner))
	for r := 0; r < rows; r += block {
		if m.stop.stopped() {
			panic(device.ErrStopped)
		}
		h := min(block, rows-r)
		sgemm(h, cols, inner, A[r*inner:(r+h)*inner], B, C[r*cols:(r+h)*cols])
	}
	rep.DeviceTime = time.Since(start)
	if m.mode == device.Copy {
		copy(outC, C)
		m.stats.CopiedBytes += c.Len
	}
	m.stats.KernelsLaunch++
	rep.Addrs = []uintptr{addr(A), addr(B), addr(C)}
	return rep, nil
}

func addr(s []float32) uintptr { return uintptr(unsafe.Pointer(&s[0])) }
