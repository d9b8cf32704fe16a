package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// managedReserve is device memory NewMemory leaves free when it makes a
// managed or resident memory: asking the driver for more managed memory
// than the card has free can hang the GPU, not just fail.
const managedReserve = 256 << 20

// stageAlign is the granularity copy-mode device buffers grow by.
const stageAlign = 2 << 20

// errClosed is returned by every Memory method after Close.
var errClosed = errors.New("cuda: memory is closed")

// Memory is a guest's linear memory as the GPU sees it, in one Mode. It
// implements device.Memory; in resident mode NewMemory returns a
// *ResidentMemory, which adds Upload and Download. Use it from one goroutine
// at a time.
type Memory struct {
	d      *Device
	mode   device.Mode
	buf    []byte  // the whole reservation; len == max rounded to pages
	base   uintptr // &buf[0]; never moves
	size   uint64  // bytes in use (Grow)
	closed bool

	stream, evStart, evStop uintptr
	stats                   device.Stats

	stage  [3]devBuf // copy: device buffers for A, B, C
	pieces []piece   // mapped: one host registration per Grow
	mirror uint64    // resident: device copy of buf
	ident  bool      // mapped: every piece's device pointer equals its host pointer

	ms       float32    // cuEventElapsedTime's out-parameter, kept off the stack
	args     argBlock   // kernel parameters for Launch, reused
	llm      llmState   // LLM ops' kernels and device buffers (llm_exec.go)
	programs []*Program // open programs (program.go), closed with the Memory
}

// ResidentMemory is a Memory in resident mode: kernels run on a device
// mirror of the linear memory, and data moves only on Upload and Download.
type ResidentMemory struct{ *Memory }

var (
	_ device.Memory     = (*Memory)(nil)
	_ device.Memory     = (*ResidentMemory)(nil)
	_ device.Residenter = (*ResidentMemory)(nil)
)

// devBuf is a device allocation that grows.
type devBuf struct {
	ptr, cap uint64
}

// piece is one cuMemHostRegister'ed range of a mapped memory.
type piece struct {
	off, len uint64 // in the linear memory
	dev      uint64 // device pointer of its first byte
}

// NewMemory reserves max bytes for a guest's linear memory in mode. Size
// starts at 0; the Wasm runtime's first Reallocate calls Grow.
//
//   - copy: host reservation (region.Reserve); MatMul copies operands into
//     device buffers and the result back (from pinned pages with
//     Options.PinnedCopy).
//   - mapped: host reservation; each Grow registers the newly used pages
//     with cuMemHostRegister(PORTABLE|DEVICEMAP), so kernels read and write
//     the guest's bytes over PCIe.
//   - managed: the linear memory is cuMemAllocManaged(max) memory; the driver
//     migrates pages on touch. Fails if max would leave less than 256 MiB of
//     the card free.
//   - resident: host reservation plus a device mirror of max bytes.
func (d *Device) NewMemory(mode device.Mode, max uint64) (device.Memory, error) {
	m, err := d.newMemory(mode, max)
	if err != nil {
		return nil, err
	}
	if mode == device.Resident {
		return &ResidentMemory{m}, nil
	}
	return m, nil
}

func (d *Device) newMemory(mode device.Mode, max uint64) (*Memory, error) {
	switch mode {
	case device.Copy, device.Mapped, device.Managed, device.Resident:
	default:
		return nil, fmt.Errorf("cuda: new memory: %w: %q", device.ErrUnsupportedMode, mode)
	}
	if max == 0 {
		return nil, fmt.Errorf("cuda: new %s memory: size 0", mode)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, fmt.Errorf("cuda: new %s memory: device is closed", mode)
	}
	d.memories++
	d.mu.Unlock()

	m := &Memory{d: d, mode: mode, ident: true}
	m.args.init()
	if err := m.open(max); err != nil {
		m.free()
		d.mu.Lock()
		d.memories--
		d.mu.Unlock()
		return nil, fmt.Errorf("cuda: new %s memory of %d bytes: %w", mode, max, err)
	}
	return m, nil
}

// open makes the stream, the timing events and the mode's memory.
func (m *Memory) open(max uint64) error {
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	drv := d.drv
	if err := drv.check("cuStreamCreate", call(drv.cuStreamCreate, uintptr(unsafe.Pointer(&m.stream)), streamNonBlocking)); err != nil {
		return err
	}
	for _, ev := range []*uintptr{&m.evStart, &m.evStop} {
		if err := drv.check("cuEventCreate", call(drv.cuEventCreate, uintptr(unsafe.Pointer(ev)), eventDefault)); err != nil {
			return err
		}
	}

	switch m.mode {
	case device.Managed:
		if d.attr(attrManagedMemory) != 1 {
			return errors.New("device does not support managed memory")
		}
		n := region.RoundUp(max)
		if err := d.fits(n); err != nil {
			return err
		}
		var p uint64
		if err := drv.check("cuMemAllocManaged", call(drv.cuMemAllocManaged, uintptr(unsafe.Pointer(&p)), uintptr(n), memAttachGlobal)); err != nil {
			return err
		}
		d.liveManaged.Add(int64(n))
		m.base = uintptr(p)
		m.buf = unsafe.Slice((*byte)(ptr(m.base)), n)
		return nil
	case device.Mapped:
		if d.attr(attrHostRegisterSupported) == 0 {
			return errors.New("device does not support cuMemHostRegister")
		}
	}

	buf, err := region.Reserve(max)
	if err != nil {
		return err
	}
	m.buf, m.base = buf, uintptr(unsafe.Pointer(&buf[0]))

	if m.mode == device.Resident {
		n := uint64(len(buf))
		if err := d.fits(n); err != nil {
			return err
		}
		if err := drv.check("cuMemAlloc", call(drv.cuMemAlloc, uintptr(unsafe.Pointer(&m.mirror)), uintptr(n))); err != nil {
			return err
		}
		d.liveDevice.Add(int64(n))
		m.stats.DeviceBytes = n
	}
	return nil
}

// fits fails if n bytes would leave less than managedReserve of the device
// free. The context must be current.
func (d *Device) fits(n uint64) error {
	free, _, err := d.memInfo()
	if err != nil {
		return err
	}
	if n > free || free-n < managedReserve {
		return fmt.Errorf("%d bytes requested, %d free on the device (keeping %d free)", n, free, managedReserve)
	}
	return nil
}

// Mode is the memory mode the Memory was made in.
func (m *Memory) Mode() device.Mode { return m.mode }

// Bytes is the whole reservation; its base never moves. In managed mode it
// is the managed allocation itself. Nil after Close.
func (m *Memory) Bytes() []byte { return m.buf }

// Size is the number of bytes in use.
func (m *Memory) Size() uint64 { return m.size }

// Stats reports device buffers, pinned bytes and copies made so far. In
// managed mode the managed allocation is the linear memory itself and is
// not counted.
func (m *Memory) Stats() device.Stats { return m.stats }

// Grow marks the first size bytes as in use. It never shrinks. In mapped
// mode it registers the pages between the old and the new size (rounded up
// to whole pages) as one more registration: pinning the whole reservation
// up front would make every page of it resident, while this pins only what
// the guest has grown into. Registrations are adjacent, and with unified
// addressing each one's device pointer is its host pointer, so a kernel
// reads across them as one range. Copy mode with Options.PinnedCopy
// registers the same way, without the device mapping.
func (m *Memory) Grow(size uint64) error {
	if m.closed {
		return errClosed
	}
	if size > uint64(len(m.buf)) {
		return fmt.Errorf("cuda: grow %s memory to %d bytes: beyond its maximum of %d", m.mode, size, len(m.buf))
	}
	if size <= m.size {
		return nil
	}
	if m.mode == device.Mapped || (m.mode == device.Copy && m.d.opts.PinnedCopy) {
		if err := m.register(size); err != nil {
			return fmt.Errorf("cuda: grow %s memory to %d bytes: %w", m.mode, size, err)
		}
	}
	m.size = size
	return nil
}

// register pins the pages up to size not yet registered, and in mapped
// mode maps them into the device's address space.
func (m *Memory) register(size uint64) error {
	from := uint64(0)
	if n := len(m.pieces); n > 0 {
		from = m.pieces[n-1].off + m.pieces[n-1].len
	}
	to := region.RoundUp(size)
	if to <= from {
		return nil
	}
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	host := m.base + uintptr(from)
	flags := uintptr(memHostRegisterPortable)
	if m.mode == device.Mapped {
		flags |= memHostRegisterDeviceMap
	}
	if err := d.drv.check("cuMemHostRegister", call(d.drv.cuMemHostRegister, host, uintptr(to-from), flags)); err != nil {
		return err
	}
	var dev uint64
	if m.mode == device.Mapped {
		if err := d.drv.check("cuMemHostGetDevicePointer", call(d.drv.cuMemHostGetDevicePointer, uintptr(unsafe.Pointer(&dev)), host, 0)); err != nil {
			call(d.drv.cuMemHostUnregister, host)
			return err
		}
	} else {
		dev = uint64(host) // not mapped; kept only to unregister
	}
	m.pieces = append(m.pieces, piece{off: from, len: to - from, dev: dev})
	if dev != uint64(host) {
		m.ident = false
	}
	d.livePinned.Add(int64(to - from))
	m.stats.PinnedBytes += to - from
	return nil
}

// Addr returns the device address of the span's first byte, for kernel
// arguments: base+offset in mapped and managed modes (the zero-copy
// property), the mirror's address in resident mode. Copy mode has no device
// address for guest bytes.
func (m *Memory) Addr(s device.Span) (uint64, error) {
	if m.closed {
		return 0, errClosed
	}
	if err := device.CheckSpans(m.size, []device.Span{s}, nil); err != nil {
		return 0, fmt.Errorf("cuda: %w", err)
	}
	switch m.mode {
	case device.Managed:
		return uint64(m.base) + s.Off, nil
	case device.Resident:
		return m.mirror + s.Off, nil
	case device.Mapped:
		return m.mappedAddr(s)
	}
	return 0, fmt.Errorf("cuda: %s memory has no device address for guest bytes", m.mode)
}

// mappedAddr translates a span of a mapped memory. With identity mappings
// (the norm under unified addressing) it is base+offset; otherwise the span
// must lie in registrations whose device ranges are contiguous.
func (m *Memory) mappedAddr(s device.Span) (uint64, error) {
	if m.ident {
		return uint64(m.base) + s.Off, nil
	}
	for i, p := range m.pieces {
		if s.Off < p.off || s.Off >= p.off+p.len {
			continue
		}
		start := p.dev + (s.Off - p.off)
		end, dev := p.off+p.len, p.dev+p.len
		for _, q := range m.pieces[i+1:] {
			if end >= s.End() {
				break
			}
			if q.dev != dev {
				return 0, fmt.Errorf("cuda: span [%d, +%d) crosses registrations mapped to non-adjacent device addresses", s.Off, s.Len)
			}
			end, dev = q.off+q.len, q.dev+q.len
		}
		return start, nil
	}
	return 0, fmt.Errorf("cuda: span [%d, +%d) is not registered", s.Off, s.Len)
}

// Sync waits for all work queued on this Memory's stream.
func (m *Memory) Sync() error {
	if m.closed {
		return errClosed
	}
	if err := m.d.enter(); err != nil {
		return err
	}
	r := call(m.d.drv.cuStreamSynchronize, m.stream)
	if r == 0 {
		m.landArgmax()
	}
	m.d.leave()
	return m.d.drv.check("cuStreamSynchronize", r)
}

// Close waits for queued work and releases everything: device buffers,
// registrations, the managed allocation or the reservation, the stream and
// events. Bytes is invalid afterwards. Closing twice is a no-op.
func (m *Memory) Close() error {
	if m.closed {
		return nil
	}
	err := m.free()
	m.d.mu.Lock()
	m.d.memories--
	m.d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cuda: close %s memory: %w", m.mode, err)
	}
	return nil
}

// free releases whatever open made, also after a partial open.
func (m *Memory) free() error {
	m.closed = true
	d, drv := m.d, m.d.drv
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var errs []error
	if m.stream != 0 {
		errs = append(errs, drv.check("cuStreamSynchronize", call(drv.cuStreamSynchronize, m.stream)))
	}
	for i := range m.stage {
		if m.stage[i].ptr != 0 {
			errs = append(errs, drv.check("cuMemFree", call(drv.cuMemFree, uintptr(m.stage[i].ptr))))
			d.liveDevice.Add(-int64(m.stage[i].cap))
			m.stage[i] = devBuf{}
		}
	}
	for _, p := range m.programs {
		errs = append(errs, p.free()...)
		p.closed = true
	}
	m.programs = nil
	errs = append(errs, m.freeLLM()...)
	for _, p := range m.pieces {
		errs = append(errs, drv.check("cuMemHostUnregister", call(drv.cuMemHostUnregister, m.base+uintptr(p.off))))
		d.livePinned.Add(-int64(p.len))
	}
	m.pieces = nil
	if m.mirror != 0 {
		errs = append(errs, drv.check("cuMemFree", call(drv.cuMemFree, uintptr(m.mirror))))
		d.liveDevice.Add(-int64(len(m.buf)))
		m.mirror = 0
	}
	if m.buf != nil {
		if m.mode == device.Managed {
			errs = append(errs, drv.check("cuMemFree", call(drv.cuMemFree, m.base)))
			d.liveManaged.Add(-int64(len(m.buf)))
		} else {
			errs = append(errs, region.Release(m.buf))
		}
		m.buf, m.base = nil, 0
	}
	for _, ev := range []*uintptr{&m.evStart, &m.evStop} {
		if *ev != 0 {
			errs = append(errs, drv.check("cuEventDestroy", call(drv.cuEventDestroy, *ev)))
			*ev = 0
		}
	}
	if m.stream != 0 {
		errs = append(errs, drv.check("cuStreamDestroy", call(drv.cuStreamDestroy, m.stream)))
		m.stream = 0
	}
	m.stats.StagingBytes, m.stats.DeviceBytes, m.stats.PinnedBytes = 0, 0, 0
	return joinErrs("release", errs)
}

// Upload copies the span from the linear memory to the device mirror and
// waits for the copy.
func (r *ResidentMemory) Upload(s device.Span) error { return r.transfer(s, true) }

// Download copies the span from the device mirror to the linear memory and
// waits for the copy.
func (r *ResidentMemory) Download(s device.Span) error { return r.transfer(s, false) }

func (r *ResidentMemory) transfer(s device.Span, up bool) error {
	m := r.Memory
	what := "download"
	if up {
		what = "upload"
	}
	if m.closed {
		return errClosed
	}
	if err := device.CheckSpans(m.size, []device.Span{s}, nil); err != nil {
		return fmt.Errorf("cuda: %s: %w", what, err)
	}
	if s.Len == 0 {
		return nil
	}
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var err error
	if up {
		err = d.drv.check("cuMemcpyHtoDAsync", call(d.drv.cuMemcpyHtoDAsync, uintptr(m.mirror+s.Off), m.base+uintptr(s.Off), uintptr(s.Len), m.stream))
	} else {
		err = d.drv.check("cuMemcpyDtoHAsync", call(d.drv.cuMemcpyDtoHAsync, m.base+uintptr(s.Off), uintptr(m.mirror+s.Off), uintptr(s.Len), m.stream))
	}
	if err == nil {
		err = d.drv.check("cuStreamSynchronize", call(d.drv.cuStreamSynchronize, m.stream))
	}
	if err != nil {
		return fmt.Errorf("cuda: %s [%d, +%d): %w", what, s.Off, s.Len, err)
	}
	m.stats.CopiedBytes += s.Len
	return nil
}
