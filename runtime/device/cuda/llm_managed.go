package cuda

import (
	"errors"
	"os"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Managed mode keeps the LLM ops' pages where they are used. The driver
// migrates a managed page to whichever processor touches it, so a page that
// both the host and the kernels touch every token moves twice per token,
// each move a fault that stalls the GPU or the host. Two values cross every
// token: the token ids the engine writes (Embed reads them) and the argmax
// it reads back. So in managed mode:
//
//   - Embed copies the ids it has already read on the host for the range
//     check to a small device buffer (cuMemcpyHtoDAsync from Go memory,
//     which the driver has staged when the call returns) and the kernel
//     reads them there, not in managed memory.
//   - Argmax writes its indices to page-locked host memory, and Sync copies
//     them into the out span: the host reads them only after Sync. An op
//     queued before that Sync that reads the out span waits for them first.
//   - Optionally (WASMGPU_CUDA_LLM_PREFETCH=1), the first time an op uses
//     a span, its 64 KiB chunks are prefetched to the device
//     (cuMemPrefetchAsync), so kernels find them resident instead of
//     faulting them in (the KV cache's rows as they fill). Chunks are
//     whole: spans should not share a chunk with bytes the host touches
//     (the engine aligns its buffers to 64 KiB; see runtime/llm). Off by
//     default: it measured no faster decode (RATIONALE.md, cuda).
//
// WASMGPU_CUDA_LLM_HOSTIO=0 turns the first two off (the state before, for
// measurements: RATIONALE.md).
var (
	managedHostIO   = os.Getenv("WASMGPU_CUDA_LLM_HOSTIO") != "0"
	managedPrefetch = os.Getenv("WASMGPU_CUDA_LLM_PREFETCH") == "1"
)

// prefetchChunk is the granule of managed prefetches: the GPU's large page.
const prefetchChunk = 64 << 10

// hostBuf is page-locked host memory that kernels write through dev.
type hostBuf struct {
	host uintptr // host address
	dev  uint64  // device address
	cap  uint64
}

// managedLLM is a managed Memory's LLM state for keeping pages in place.
type managedLLM struct {
	ids      devBuf   // Embed's token ids on the device
	idsHost  []int32  // and their host copy, for cuMemcpyHtoDAsync
	out      hostBuf  // Argmax's indices, written by the kernel
	pendOff  uint64   // the out span those indices belong in
	pendN    uint64   // bytes of them not yet copied there; 0 if none
	pendSrc  uintptr  // where they are: out's host address, or a program's (program.go)
	onDevice []uint64 // bit c: chunk c has been prefetched to the device
	// prefetchErr is the error of a failed prefetch, after which there are no more.
	prefetchErr error
}

// hostIO says whether Embed's ids and Argmax's out avoid managed memory.
func (m *Memory) hostIO() bool { return m.mode == device.Managed && managedHostIO }

// settle copies pending argmax indices into the linear memory if s overlaps
// their span, waiting for the stream first. The context must be current.
func (m *Memory) settle(s device.Span) error {
	mm := &m.llm.managed
	if mm.pendN == 0 || s.Off >= mm.pendOff+mm.pendN || mm.pendOff >= s.Off+s.Len {
		return nil
	}
	return m.flushArgmax()
}

// flushArgmax waits for the stream and copies pending argmax indices into
// the linear memory. The context must be current. While a program's graph
// is being recorded nothing may wait: an op of the program that reads its
// own argmax's indices cannot be recorded (the program then runs op by op).
func (m *Memory) flushArgmax() error {
	if m.llm.managed.pendN == 0 {
		return nil
	}
	if r := m.llm.rec; r != nil && r.capturing {
		return errors.New("an op reads argmax indices queued before it in the same program: a CUDA graph cannot wait for them")
	}
	if err := m.d.drv.check("cuStreamSynchronize", call(m.d.drv.cuStreamSynchronize, m.stream)); err != nil {
		return err
	}
	m.landArgmax()
	return nil
}

// landArgmax copies pending argmax indices into the linear memory once the
// stream has been waited for (Sync).
func (m *Memory) landArgmax() {
	mm := &m.llm.managed
	if mm.pendN != 0 {
		copy(m.buf[mm.pendOff:mm.pendOff+mm.pendN], unsafe.Slice((*byte)(ptr(mm.pendSrc)), mm.pendN))
		mm.pendN = 0
	}
}

// argmaxOut returns the device address Argmax writes n bytes of indices to,
// in page-locked host memory, growing it if needed, for the out span at
// off. The buffer is reused: pending indices are flushed first, unless this
// op's span covers theirs (it overwrites them, in stream order). The
// context must be current.
func (m *Memory) argmaxOut(off, n uint64) (uint64, error) {
	mm := &m.llm.managed
	if mm.pendN != 0 && off <= mm.pendOff && mm.pendOff+mm.pendN <= off+n && mm.out.cap >= n {
		mm.pendN = 0
	}
	if err := m.flushArgmax(); err != nil {
		return 0, err
	}
	if mm.out.cap >= n {
		return mm.out.dev, nil
	}
	drv := m.d.drv
	if mm.out.host != 0 {
		if err := drv.check("cuMemFreeHost", call(drv.cuMemFreeHost, mm.out.host)); err != nil {
			return 0, err
		}
		m.d.livePinned.Add(-int64(mm.out.cap))
		mm.out = hostBuf{}
	}
	c := alignUp(n, 4096)
	var h uintptr
	if err := drv.check("cuMemAllocHost", call(drv.cuMemAllocHost, uintptr(unsafe.Pointer(&h)), uintptr(c))); err != nil {
		return 0, err
	}
	var dp uint64
	if err := drv.check("cuMemHostGetDevicePointer", call(drv.cuMemHostGetDevicePointer, uintptr(unsafe.Pointer(&dp)), h, 0)); err != nil {
		call(drv.cuMemFreeHost, h)
		return 0, err
	}
	mm.out = hostBuf{host: h, dev: dp, cap: c}
	m.d.livePinned.Add(int64(c))
	return dp, nil
}

// toDevice prefetches the chunks of s that no earlier op has prefetched.
// The context must be current.
func (m *Memory) toDevice(s device.Span) error {
	mm := &m.llm.managed
	if !managedPrefetch || m.mode != device.Managed || s.Len == 0 || m.d.drv.cuMemPrefetchAsync == 0 || mm.prefetchErr != nil {
		return nil
	}
	if mm.onDevice == nil {
		mm.onDevice = make([]uint64, (uint64(len(m.buf))/prefetchChunk+64)/64)
	}
	bits := mm.onDevice
	first, last := s.Off/prefetchChunk, (s.Off+s.Len-1)/prefetchChunk
	for c := first; c <= last; {
		if c%64 == 0 && c+63 <= last && bits[c/64] == ^uint64(0) {
			c += 64
			continue
		}
		if bits[c/64]&(1<<(c%64)) != 0 {
			c++
			continue
		}
		e := c
		for e <= last && bits[e/64]&(1<<(e%64)) == 0 {
			bits[e/64] |= 1 << (e % 64)
			e++
		}
		off, end := c*prefetchChunk, min(e*prefetchChunk, uint64(len(m.buf)))
		loc := uintptr(memLocationTypeDevice) | uintptr(uint32(m.d.dev))<<32 // CUmemLocation{type, id} by value
		if err := m.d.drv.check("cuMemPrefetchAsync_v2", call(m.d.drv.cuMemPrefetchAsync, m.base+uintptr(off), uintptr(end-off), loc, 0, m.stream)); err != nil {
			// A prefetch is advice: the kernels fault the pages in without
			// it. Stop asking, and keep the reason for the benchmark.
			mm.prefetchErr = err
			return nil
		}
		c = e
	}
	return nil
}

// freeManagedLLM releases the managed-mode buffers; the context must be
// current and the stream idle.
func (m *Memory) freeManagedLLM() []error {
	mm := &m.llm.managed
	var errs []error
	if mm.ids.ptr != 0 {
		errs = append(errs, m.d.drv.check("cuMemFree", call(m.d.drv.cuMemFree, uintptr(mm.ids.ptr))))
		m.d.liveDevice.Add(-int64(mm.ids.cap))
		m.stats.DeviceBytes -= mm.ids.cap
	}
	if mm.out.host != 0 {
		errs = append(errs, m.d.drv.check("cuMemFreeHost", call(m.d.drv.cuMemFreeHost, mm.out.host)))
		m.d.livePinned.Add(-int64(mm.out.cap))
	}
	*mm = managedLLM{}
	return errs
}
