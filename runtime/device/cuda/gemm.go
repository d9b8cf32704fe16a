package cuda

import (
	"fmt"
	"math"
	"math/bits"
	"time"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// gemmBytes returns the bytes of row-major fp32 A (m×k), B (k×n) and C (m×n),
// or an error if a dimension is not positive, exceeds cuBLAS's int32, or a
// size overflows.
func gemmBytes(m, n, k int) (a, b, c uint64, err error) {
	for _, d := range []int{m, n, k} {
		if d <= 0 || d > math.MaxInt32 {
			return 0, 0, 0, fmt.Errorf("matmul dimensions m=%d n=%d k=%d: each must be in [1, %d]", m, n, k, math.MaxInt32)
		}
	}
	size := func(r, c int) (uint64, bool) {
		hi, lo := bits.Mul64(uint64(r), uint64(c))
		if hi != 0 || lo > math.MaxUint64/4 {
			return 0, false
		}
		return lo * 4, true
	}
	var ok1, ok2, ok3 bool
	a, ok1 = size(m, k)
	b, ok2 = size(k, n)
	c, ok3 = size(m, n)
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("matmul dimensions m=%d n=%d k=%d overflow", m, n, k)
	}
	return a, b, c, nil
}

// checkGemm validates a MatMul's operands and returns the exact operand
// spans (each span's first bytes that the matrices occupy).
func (m *Memory) checkGemm(a, b, c device.Span, rows, cols, inner int) ([3]device.Span, error) {
	var ops [3]device.Span
	na, nb, nc, err := gemmBytes(rows, cols, inner)
	if err != nil {
		return ops, err
	}
	for i, x := range []struct {
		s    device.Span
		need uint64
		name string
	}{{a, na, "A"}, {b, nb, "B"}, {c, nc, "C"}} {
		if x.s.Len < x.need {
			return ops, fmt.Errorf("matmul %s span [%d, +%d) is shorter than the %d bytes of a %s matrix", x.name, x.s.Off, x.s.Len, x.need, x.name)
		}
		ops[i] = device.Span{Off: x.s.Off, Len: x.need}
	}
	if err := device.CheckSpans(m.size, []device.Span{a, b}, []device.Span{c}); err != nil {
		return ops, fmt.Errorf("matmul: %w", err)
	}
	return ops, nil
}

// MatMul computes row-major C = A·B with cublasSgemm and returns when C is
// in the linear memory. cuBLAS is column-major, so it computes Cᵀ = Bᵀ·Aᵀ:
// the same bytes read the other way. DeviceTime is the GEMM alone, between
// two CUDA events on the Memory's stream (copies excluded). Addrs are the
// device addresses cuBLAS was given for A, B and C: in mapped and managed
// modes they equal Bytes()'s base plus the spans' offsets.
//
// Copy mode copies A and B (only the bytes the matrices occupy) to device
// buffers kept per Memory, grown to the largest operand seen, and C back.
// The copies go straight from the linear memory (pageable; the driver stages
// them through its own pinned buffers): a pinned staging buffer of ours
// would add a CPU copy of the same bytes and pinned RSS, and the point of
// the control is the cost a sandbox pays without shared memory.
func (m *Memory) MatMul(a, b, c device.Span, rows, cols, inner int) (device.KernelReport, error) {
	var rep device.KernelReport
	if m.closed {
		return rep, errClosed
	}
	ops, err := m.checkGemm(a, b, c, rows, cols, inner)
	if err != nil {
		return rep, fmt.Errorf("cuda: %w", err)
	}
	d := m.d
	if err := d.enter(); err != nil {
		return rep, err
	}
	defer d.leave()

	var p [3]uint64
	switch m.mode {
	case device.Copy:
		for i := range ops {
			if err := m.ensureStage(i, ops[i].Len); err != nil {
				return rep, fmt.Errorf("cuda: matmul: %w", err)
			}
			p[i] = m.stage[i].ptr
		}
		for i := range 2 {
			if err := d.drv.check("cuMemcpyHtoDAsync", call(d.drv.cuMemcpyHtoDAsync, uintptr(p[i]), m.base+uintptr(ops[i].Off), uintptr(ops[i].Len), m.stream)); err != nil {
				return rep, fmt.Errorf("cuda: matmul: %w", err)
			}
			m.stats.CopiedBytes += ops[i].Len
		}
	case device.Managed:
		for i := range ops {
			p[i] = uint64(m.base) + ops[i].Off
			if err := m.settle(ops[i]); err != nil { // an LLM Argmax's indices not yet copied in
				return rep, fmt.Errorf("cuda: matmul: %w", err)
			}
		}
		if d.opts.PrefetchManaged && d.drv.cuMemPrefetchAsync != 0 {
			loc := uintptr(memLocationTypeDevice) | uintptr(uint32(d.dev))<<32 // CUmemLocation{type, id} by value
			for i := range ops {
				if err := d.drv.check("cuMemPrefetchAsync_v2", call(d.drv.cuMemPrefetchAsync, uintptr(p[i]), uintptr(ops[i].Len), loc, 0, m.stream)); err != nil {
					return rep, fmt.Errorf("cuda: matmul: %w", err)
				}
			}
		}
	case device.Mapped:
		for i := range ops {
			if p[i], err = m.mappedAddr(ops[i]); err != nil {
				return rep, fmt.Errorf("cuda: matmul: %w", err)
			}
		}
	case device.Resident:
		for i := range ops {
			p[i] = m.mirror + ops[i].Off
		}
	}

	if err := m.sgemm(p, rows, cols, inner); err != nil {
		return rep, fmt.Errorf("cuda: matmul %dx%dx%d: %w", rows, cols, inner, err)
	}
	if m.mode == device.Copy {
		if err := d.drv.check("cuMemcpyDtoHAsync", call(d.drv.cuMemcpyDtoHAsync, m.base+uintptr(ops[2].Off), uintptr(p[2]), uintptr(ops[2].Len), m.stream)); err != nil {
			return rep, fmt.Errorf("cuda: matmul: %w", err)
		}
		m.stats.CopiedBytes += ops[2].Len
	}
	if err := d.drv.check("cuStreamSynchronize", call(d.drv.cuStreamSynchronize, m.stream)); err != nil {
		return rep, fmt.Errorf("cuda: matmul: %w", err)
	}
	if err := d.drv.check("cuEventElapsedTime", call(d.drv.cuEventElapsedTime, uintptr(unsafe.Pointer(&m.ms)), m.evStart, m.evStop)); err != nil {
		return rep, fmt.Errorf("cuda: matmul: %w", err)
	}
	m.stats.KernelsLaunch++
	rep.DeviceTime = time.Duration(float64(m.ms) * 1e6)
	rep.Addrs = []uintptr{uintptr(p[0]), uintptr(p[1]), uintptr(p[2])}
	return rep, nil
}

// sgemm enqueues the cuBLAS GEMM on device addresses p = {A, B, C} between
// the Memory's two timing events. The context must be current.
func (m *Memory) sgemm(p [3]uint64, rows, cols, inner int) error {
	d := m.d
	if err := d.drv.check("cuEventRecord", call(d.drv.cuEventRecord, m.evStart, m.stream)); err != nil {
		return err
	}
	d.mu.Lock()
	h, err := d.blasHandle(m.stream)
	if err == nil {
		// Column-major Cᵀ (cols×rows) = Bᵀ (cols×inner) · Aᵀ (inner×rows).
		err = cublasError("cublasSgemm_v2", call(d.blas.cublasSgemm, h, cublasOpN, cublasOpN,
			uintptr(cols), uintptr(rows), uintptr(inner),
			uintptr(unsafe.Pointer(&d.one)), uintptr(p[1]), uintptr(cols), uintptr(p[0]), uintptr(inner),
			uintptr(unsafe.Pointer(&d.zero)), uintptr(p[2]), uintptr(cols)))
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.drv.check("cuEventRecord", call(d.drv.cuEventRecord, m.evStop, m.stream))
}

// ensureStage grows copy-mode device buffer i to hold n bytes. The stream is
// idle (MatMul is synchronous), so the old buffer can go at once.
func (m *Memory) ensureStage(i int, n uint64) error {
	s := &m.stage[i]
	if s.cap >= n {
		return nil
	}
	drv := m.d.drv
	if s.ptr != 0 {
		if err := drv.check("cuMemFree", call(drv.cuMemFree, uintptr(s.ptr))); err != nil {
			return err
		}
		m.d.liveDevice.Add(-int64(s.cap))
		m.stats.DeviceBytes -= s.cap
		m.stats.StagingBytes -= s.cap
		*s = devBuf{}
	}
	c := (n + stageAlign - 1) &^ (stageAlign - 1)
	var p uint64
	if err := drv.check("cuMemAlloc", call(drv.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(c))); err != nil {
		return err
	}
	*s = devBuf{ptr: p, cap: c}
	m.d.liveDevice.Add(int64(c))
	m.stats.DeviceBytes += c
	m.stats.StagingBytes += c
	return nil
}
