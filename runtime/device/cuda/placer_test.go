package cuda

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestChunkRange: spans widen to whole 64 KiB prefetch chunks, never past
// the allocation. (No GPU needed.)
func TestChunkRange(t *testing.T) {
	const c = prefetchChunk
	for _, tc := range []struct {
		s               device.Span
		limit, off, end uint64
	}{
		{device.Span{Off: 0, Len: 1}, 10 * c, 0, c},
		{device.Span{Off: c, Len: c}, 10 * c, c, 2 * c},
		{device.Span{Off: c - 1, Len: 2}, 10 * c, 0, 2 * c},
		{device.Span{Off: 3*c + 5, Len: 24 << 10}, 10 * c, 3 * c, 4 * c},
		{device.Span{Off: 9*c + 1, Len: c - 1}, 9*c + 100, 9 * c, 9*c + 100},
	} {
		if off, end := chunkRange(tc.s, tc.limit); off != tc.off || end != tc.end {
			t.Errorf("chunkRange(%+v, %d) = [%d, %d), want [%d, %d)", tc.s, tc.limit, off, end, tc.off, tc.end)
		}
	}
}

// Memory range attributes (cuda.h, CUmem_range_attribute) and CU_DEVICE_CPU.
const (
	rangeAttrLastPrefetchLocation     = 4 // int: device ordinal, CU_DEVICE_CPU or CU_DEVICE_INVALID
	rangeAttrLastPrefetchLocationType = 7 // int: CUmemLocationType (CUDA 12.2+)
	deviceCPU                         = -1
)

// lastPrefetch asks the driver where a managed range was last prefetched:
//
//	CUresult cuMemRangeGetAttribute(void *data, size_t dataSize,
//	    CUmem_range_attribute attribute, CUdeviceptr devPtr, size_t count);
//
// It returns device.OnDevice or device.OnHost, and false if the range was
// never prefetched or prefetched to different places.
func lastPrefetch(t *testing.T, m *Memory, s device.Span) (device.Location, bool) {
	t.Helper()
	h, _, err := libCUDA.open()
	if err != nil {
		t.Fatal(err)
	}
	fn, err := purego.Dlsym(h, "cuMemRangeGetAttribute")
	if err != nil {
		t.Fatal(err)
	}
	d := m.d
	if err := d.enter(); err != nil {
		t.Fatal(err)
	}
	defer d.leave()
	var v int32
	get := func(attr int) int32 {
		return call(fn, uintptr(unsafe.Pointer(&v)), 4, uintptr(attr), m.base+uintptr(s.Off), uintptr(s.Len))
	}
	if get(rangeAttrLastPrefetchLocationType) == 0 {
		switch v {
		case memLocationTypeDevice:
			return device.OnDevice, true
		case memLocationTypeHost:
			return device.OnHost, true
		}
		return 0, false
	}
	if err := d.drv.check("cuMemRangeGetAttribute", get(rangeAttrLastPrefetchLocation)); err != nil {
		t.Fatal(err)
	}
	switch {
	case v == deviceCPU:
		return device.OnHost, true
	case v == d.dev:
		return device.OnDevice, true
	}
	return 0, false
}

// TestPlaceManaged: Place and Wrote move managed pages where they say, as
// the driver reports, and never change a byte; in the other modes they
// change nothing either. (GPU.)
func TestPlaceManaged(t *testing.T) {
	d := gpu(t)
	if d.drv.cuMemPrefetchAsync == 0 {
		t.Skip("driver has no cuMemPrefetchAsync_v2 (CUDA 12.2+)")
	}
	for _, mode := range []device.Mode{device.Managed, device.Mapped, device.Copy} {
		t.Run(string(mode), func(t *testing.T) {
			dm, err := d.NewMemory(mode, 8<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer dm.Close()
			if err := dm.Grow(4 << 20); err != nil {
				t.Fatal(err)
			}
			m := memoryOf(dm)
			b := dm.Bytes()[:4<<20]
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := bytes.Clone(b)
			p := dm.(device.Placer)
			kv := device.Span{Off: 1 << 20, Len: 24 << 10}
			act := device.Span{Off: 2 << 20, Len: 1 << 20}
			steps := []struct {
				name string
				do   func() error
				span device.Span
				at   device.Location
			}{
				{"place activations on the device", func() error { return p.Place([]device.Span{act}, device.OnDevice) }, act, device.OnDevice},
				{"place the KV rows on the host", func() error { return p.Place([]device.Span{kv}, device.OnHost) }, kv, device.OnHost},
				{"wrote the KV rows", func() error {
					copy(b[kv.Off:kv.End()], bytes.Repeat([]byte{0x5a}, int(kv.Len)))
					copy(want[kv.Off:kv.End()], b[kv.Off:kv.End()])
					return p.Wrote([]device.Span{kv})
				}, kv, device.OnDevice},
			}
			for _, st := range steps {
				if err := st.do(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if err := dm.Sync(); err != nil {
					t.Fatal(err)
				}
				if mode != device.Managed {
					continue
				}
				if at, ok := lastPrefetch(t, m, st.span); !ok || at != st.at {
					t.Errorf("%s: the driver says the range was last prefetched to %v (known: %v), want %v", st.name, at, ok, st.at)
				}
			}
			if !bytes.Equal(b, want) {
				t.Error("placing changed the bytes")
			}
			if err := p.Place([]device.Span{{Off: 4 << 20, Len: 1}}, device.OnDevice); err == nil {
				t.Error("a span past the memory in use was placed")
			}
		})
	}
}

// memoryOf returns the *Memory behind a device.Memory of any mode.
func memoryOf(dm device.Memory) *Memory {
	if r, ok := dm.(*ResidentMemory); ok {
		return r.Memory
	}
	return dm.(*Memory)
}
