//go:build darwin

package metal

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// Memory is a guest's linear memory as the Metal GPU sees it: an mmap
// reservation whose base never moves, used in place (zerocopy) or through
// staging buffers (copy). Like every device.Memory it is for one goroutine at
// a time; Stats may be read from any goroutine.
type Memory struct {
	d    *Device
	mode device.Mode
	mem  []byte // the whole reservation (page-aligned base, whole pages)
	size uint64 // bytes in use

	// zerocopy: the no-copy MTLBuffer over mem[:bufLen] (owned).
	buf    objc.ID
	bufLen uint64

	// copy: staging buffers for A, B and C (owned), kept between calls.
	stage [3]staging

	// The LLM ops' queued work and staging (llm_exec_darwin.go).
	llm llmMem

	mu     sync.Mutex // guards stats
	stats  device.Stats
	closed bool
}

// staging is one shared MTLBuffer used to stage an operand in copy mode.
type staging struct {
	buf objc.ID
	ptr unsafe.Pointer // -contents
	n   uint64         // -length
}

var _ device.Memory = (*Memory)(nil)

// Mode reports the memory mode.
func (m *Memory) Mode() device.Mode { return m.mode }

// Bytes is the whole reservation: max rounded up to whole pages. The Wasm
// runtime hands out prefixes of it; its base never changes.
func (m *Memory) Bytes() []byte { return m.mem }

// Size is the number of bytes in use.
func (m *Memory) Size() uint64 { return m.size }

// Grow records that the first size bytes are in use. In zerocopy mode, when
// size passes the end of the current no-copy buffer, the buffer is replaced
// by one over the first size bytes rounded up to the page size, made before
// the old one is released so a failure leaves the Memory as it was.
func (m *Memory) Grow(size uint64) error {
	if m.closed {
		return fmt.Errorf("metal: grow: memory is closed")
	}
	if size > uint64(len(m.mem)) {
		return fmt.Errorf("metal: grow to %d bytes exceeds the reservation of %d", size, len(m.mem))
	}
	if m.mode == device.ZeroCopy {
		if need := region.RoundUp(size); need > m.bufLen {
			// Queued LLM work runs first: it was encoded against the old buffer.
			if err := m.d.w.do(func() error { m.llmSubmit(); return m.wrap(need) }); err != nil {
				return fmt.Errorf("metal: grow to %d bytes: %w", size, err)
			}
		}
	}
	m.size = size
	return nil
}

// wrap makes the no-copy buffer over mem[:n]. It runs on the Metal thread.
//
// newBufferWithBytesNoCopy:length:options:deallocator: documents that the
// pointer must be page-aligned and the length must produce a page-aligned
// region (a multiple of vm_page_size: 16 KiB on Apple Silicon); the memory
// must stay allocated and unchanged in address for the buffer's whole
// lifetime (the mmap reservation is unmapped only after the buffer is
// released, in Close); storage mode shared is the one that lets CPU and GPU
// use the same pages. With a nil deallocator Metal never frees the memory.
// The length is also bounded by the device's maxBufferLength.
func (m *Memory) wrap(n uint64) error {
	if n%region.PageSize != 0 {
		return fmt.Errorf("no-copy buffer length %d is not a multiple of the %d-byte page", n, region.PageSize)
	}
	if n > m.d.maxBuffer {
		return fmt.Errorf("no-copy buffer of %d bytes exceeds the device's maxBufferLength of %d", n, m.d.maxBuffer)
	}
	base := unsafe.Pointer(unsafe.SliceData(m.mem))
	if uintptr(base)%uintptr(region.PageSize) != 0 {
		return fmt.Errorf("linear memory base %p is not aligned to the %d-byte page", base, region.PageSize)
	}
	nb := msg.newNoCopy(m.d.dev, sel.newBufferNoCopy, base, uint(n), mtlStorageShared, 0)
	if nb == 0 {
		return fmt.Errorf("newBufferWithBytesNoCopy:length:options:deallocator: returned nil for %d bytes at %p", n, base)
	}
	if got := msg.p(nb, sel.contents); got != base {
		release(nb)
		return fmt.Errorf("no-copy buffer contents at %p, not at the linear memory's base %p: Metal did not wrap it in place", got, base)
	}
	release(m.buf)
	m.buf, m.bufLen = nb, n
	return nil
}

// MatMul computes C = A·B for row-major float32 A (rows×inner), B
// (inner×cols) and C (rows×cols) at the given spans with
// MPSMatrixMultiplication, and returns when C is in the linear memory. Spans
// must be exactly the matrices' sizes, 4-byte aligned, inside Size, and C may
// not overlap A or B. DeviceTime is the command buffer's GPU time.
func (m *Memory) MatMul(a, b, c device.Span, rows, cols, inner int) (device.KernelReport, error) {
	rep, err := m.gemm(a, b, c, rows, cols, inner, m.d.encodeMPSGemm)
	if err != nil {
		return rep, fmt.Errorf("metal: matmul: %w", err)
	}
	return rep, nil
}

// MatMulNaive is MatMul computed by the naive MSL kernel
// (kernels.MetalSgemmNaive) instead of MPS: a cross-check of MPS and of the
// compute-dispatch path that hand-written kernels use. It is slow on purpose.
func (m *Memory) MatMulNaive(a, b, c device.Span, rows, cols, inner int) (device.KernelReport, error) {
	rep, err := m.gemm(a, b, c, rows, cols, inner, m.d.encodeNaiveGemm)
	if err != nil {
		return rep, fmt.Errorf("metal: matmul naive: %w", err)
	}
	return rep, nil
}

// gemm validates, then runs encode on the Metal thread with the operands of
// this Memory's mode.
func (m *Memory) gemm(a, b, c device.Span, rows, cols, inner int, encode encodeFunc) (device.KernelReport, error) {
	var rep device.KernelReport
	if m.closed {
		return rep, fmt.Errorf("memory is closed")
	}
	mm, nn, kk, err := checkGemm(m.size, a, b, c, rows, cols, inner)
	if err != nil {
		return rep, err
	}
	err = m.d.w.do(func() error {
		m.llmSubmit() // queued LLM work comes first, in call order
		var ops gemmOperands
		if m.mode == device.ZeroCopy {
			if m.buf == 0 || c.End() > m.bufLen || a.End() > m.bufLen || b.End() > m.bufLen {
				return fmt.Errorf("no-copy buffer of %d bytes does not cover the spans (Grow not called?)", m.bufLen)
			}
			ops = gemmOperands{m.buf, m.buf, m.buf, a.Off, b.Off, c.Off}
			base := uintptr(msg.p(m.buf, sel.contents))
			rep.Addrs = []uintptr{base + uintptr(a.Off), base + uintptr(b.Off), base + uintptr(c.Off)}
		} else {
			if err := m.stageIn(a, b, c.Len); err != nil {
				return err
			}
			ops = gemmOperands{m.stage[0].buf, m.stage[1].buf, m.stage[2].buf, 0, 0, 0}
			rep.Addrs = []uintptr{uintptr(m.stage[0].ptr), uintptr(m.stage[1].ptr), uintptr(m.stage[2].ptr)}
		}
		dt, err := m.d.runCommands(func(cb objc.ID, keep *[]objc.ID) error {
			return encode(cb, ops, mm, nn, kk, keep)
		})
		if err != nil {
			return err
		}
		rep.DeviceTime = dt
		if m.mode == device.Copy {
			m.stageOut(c)
		}
		m.mu.Lock()
		m.stats.KernelsLaunch++
		m.mu.Unlock()
		return nil
	})
	return rep, err
}

// stageIn copies A and B into their staging buffers, growing the three
// staging buffers as needed. It runs on the Metal thread.
func (m *Memory) stageIn(a, b device.Span, cLen uint64) error {
	for i, n := range []uint64{a.Len, b.Len, cLen} {
		if err := m.ensureStaging(i, n); err != nil {
			return err
		}
	}
	copy(unsafe.Slice((*byte)(m.stage[0].ptr), a.Len), m.mem[a.Off:a.End()])
	copy(unsafe.Slice((*byte)(m.stage[1].ptr), b.Len), m.mem[b.Off:b.End()])
	m.mu.Lock()
	m.stats.CopiedBytes += a.Len + b.Len
	m.mu.Unlock()
	return nil
}

// stageOut copies C back into the linear memory.
func (m *Memory) stageOut(c device.Span) {
	copy(m.mem[c.Off:c.End()], unsafe.Slice((*byte)(m.stage[2].ptr), c.Len))
	m.mu.Lock()
	m.stats.CopiedBytes += c.Len
	m.mu.Unlock()
}

// ensureStaging makes staging buffer i hold at least n bytes, replacing it by
// one of n rounded up to the page size when it is smaller.
func (m *Memory) ensureStaging(i int, n uint64) error {
	return m.growStaging(&m.stage[i], n)
}

// growStaging makes s hold at least n bytes, replacing it by a shared buffer
// of n rounded up to the page size when it is smaller, and keeps the
// Memory's staging byte count.
func (m *Memory) growStaging(s *staging, n uint64) error {
	if s.buf != 0 && s.n >= n {
		return nil
	}
	want := region.RoundUp(n)
	if want > m.d.maxBuffer {
		return fmt.Errorf("staging buffer of %d bytes exceeds the device's maxBufferLength of %d", want, m.d.maxBuffer)
	}
	nb := msg.newBuffer(m.d.dev, sel.newBufferWithLength, uint(want), mtlStorageShared)
	if nb == 0 {
		return fmt.Errorf("newBufferWithLength:options: returned nil for %d bytes", want)
	}
	ptr := msg.p(nb, sel.contents)
	if ptr == nil {
		release(nb)
		return fmt.Errorf("contents of a %d-byte shared staging buffer is nil", want)
	}
	old := s.n
	release(s.buf)
	*s = staging{buf: nb, ptr: ptr, n: want}
	m.mu.Lock()
	m.stats.StagingBytes = m.stats.StagingBytes - old + want
	m.mu.Unlock()
	return nil
}

// Sync commits the LLM ops queued since the last Sync (zerocopy mode), waits
// for them, and returns the first failure of any batch run since then.
// MatMul waits for its own command buffer, and copy-mode LLM ops for theirs.
func (m *Memory) Sync() error {
	if m.closed {
		return fmt.Errorf("metal: sync: memory is closed")
	}
	if m.llm.cb == 0 && m.llm.err == nil {
		return nil
	}
	if err := m.onMetal(m.llmSync); err != nil {
		return fmt.Errorf("metal: sync: %w", err)
	}
	return nil
}

// Stats reports the staging buffers (copy mode) and the bytes copied. The
// no-copy buffer of zerocopy mode allocates nothing and is not counted.
func (m *Memory) Stats() device.Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Close releases the Metal buffers, then unmaps the reservation: the no-copy
// buffer is released before the memory it wraps goes away, as Apple requires.
// If the buffers cannot be released (the device is gone), the reservation is
// left mapped rather than unmapped under a live buffer. A second Close does
// nothing.
func (m *Memory) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	defer m.d.memoryClosed()
	err := m.d.w.do(func() error {
		m.llmRelease() // waits for queued LLM work first
		release(m.buf)
		m.buf, m.bufLen = 0, 0
		for i := range m.stage {
			release(m.stage[i].buf)
			m.stage[i] = staging{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("metal: close memory: release buffers: %w", err)
	}
	mem := m.mem
	m.mem, m.size = nil, 0
	if err := region.Release(mem); err != nil {
		return fmt.Errorf("metal: close memory: %w", err)
	}
	return nil
}
