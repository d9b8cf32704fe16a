package cuda

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// Placing pages ahead of use (device.Placer). In managed mode a page lives
// on the GPU or on the host, and the first touch from the other side
// migrates it, a fault at a time: a fresh guest's activations and logits
// fault in during its first forward pass, and the KV rows a restore wrote
// on the host fault over one by one when the first decode reads them (the
// first token after a restore cost 3.97 ms against a 1.23 ms decode step on
// the H200, FACTS.md). cuMemPrefetchAsync moves a whole range in one
// operation instead.
//
// The driver entry point, as CUDA 12.2+ and CUDA 13's cuda.h declare it:
//
//	CUresult cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count,
//	    CUmemLocation location, unsigned int flags, CUstream hStream);
//	typedef struct CUmemLocation_st { CUmemLocationType type; int id; } CUmemLocation;
//	CU_MEM_LOCATION_TYPE_DEVICE = 1 (id: the device ordinal), CU_MEM_LOCATION_TYPE_HOST = 2 (id ignored)
//
// CUmemLocation is 8 bytes and passes by value in one integer register
// (type in the low half, id in the high half), as gemm.go and
// llm_managed.go already pass it.

// memLocationTypeHost is CU_MEM_LOCATION_TYPE_HOST.
const memLocationTypeHost = 2

var _ device.Placer = (*Memory)(nil)

// Place backs spans with pages at loc before it returns.
//
//   - managed: each span, widened to the 64 KiB chunks the GPU migrates, is
//     prefetched (cuMemPrefetchAsync) to the GPU or to the host on the
//     Memory's stream, and Place waits for the stream. On the host it then
//     also writes each page without changing it (region.Populate), so that
//     the host's next writes find it mapped.
//   - copy and resident: the host pages are populated (region.Populate): the
//     host writes them and copies are staged from them.
//   - mapped: nothing to do; registered pages are pinned in host memory.
//
// Without cuMemPrefetchAsync (a driver before CUDA 12.2) managed memory is
// only populated on the host side.
func (m *Memory) Place(spans []device.Span, at device.Location) error {
	if m.closed {
		return errClosed
	}
	if err := device.CheckSpans(m.size, spans, nil); err != nil {
		return fmt.Errorf("cuda: place: %w", err)
	}
	switch m.mode {
	case device.Mapped:
		return nil
	case device.Managed:
		if err := m.prefetch(spans, at); err != nil {
			return fmt.Errorf("cuda: place on %s: %w", at, err)
		}
		if err := m.Sync(); err != nil {
			return fmt.Errorf("cuda: place on %s: %w", at, err)
		}
		if at == device.OnDevice {
			return nil
		}
	}
	for _, s := range spans {
		if s.Len > 0 {
			region.Populate(m.buf[s.Off : s.Off+s.Len])
		}
	}
	return nil
}

// Wrote queues the spans the host has just written, widened to 64 KiB
// chunks, for migration to the GPU (managed mode) on the Memory's stream,
// so the next kernel finds them there, and returns without waiting. In the
// other modes the kernels read what the host wrote where it is (mapped), or
// a copy staged per call (copy): nothing to do.
func (m *Memory) Wrote(spans []device.Span) error {
	if m.closed {
		return errClosed
	}
	if err := device.CheckSpans(m.size, spans, nil); err != nil {
		return fmt.Errorf("cuda: wrote: %w", err)
	}
	if m.mode != device.Managed {
		return nil
	}
	if err := m.prefetch(spans, device.OnDevice); err != nil {
		return fmt.Errorf("cuda: wrote: %w", err)
	}
	return nil
}

// prefetch queues cuMemPrefetchAsync of each non-empty span, widened to
// whole prefetch chunks within the allocation, to loc on the Memory's
// stream. It does nothing without the driver entry point.
func (m *Memory) prefetch(spans []device.Span, at device.Location) error {
	d := m.d
	if d.drv.cuMemPrefetchAsync == 0 {
		return nil
	}
	loc := uintptr(memLocationTypeDevice) | uintptr(uint32(d.dev))<<32 // CUmemLocation{type, id} by value
	if at == device.OnHost {
		loc = memLocationTypeHost
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	for _, s := range spans {
		if s.Len == 0 {
			continue
		}
		off, end := chunkRange(s, uint64(len(m.buf)))
		if err := d.drv.check("cuMemPrefetchAsync_v2", call(d.drv.cuMemPrefetchAsync, m.base+uintptr(off), uintptr(end-off), loc, 0, m.stream)); err != nil {
			return err
		}
	}
	return nil
}

// chunkRange widens a non-empty span to whole prefetch chunks, the end
// clamped to limit (the allocation's size).
func chunkRange(s device.Span, limit uint64) (off, end uint64) {
	off = s.Off &^ (prefetchChunk - 1)
	end = min((s.End()+prefetchChunk-1)&^(prefetchChunk-1), limit)
	return off, end
}
