package cuda

import (
	"fmt"
	"strconv"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Bandwidth is what MeasureBandwidth measured, in GB/s (1e9 bytes per
// second), each the mean over several passes after a warm-up pass.
type Bandwidth struct {
	DeviceRead float64 // a kernel reading device memory with 16-byte loads
	HtoDPinned float64 // cuMemcpyHtoDAsync from registered (pinned) host memory
	MappedRead float64 // a kernel reading registered host memory in place, over the bus
	Bytes      uint64  // size of the buffers read
}

// bandwidthBytes is the buffer size MeasureBandwidth uses: large enough to
// dwarf the 50 MB L2 of an H100, small enough to take well under a second.
const bandwidthBytes = 256 << 20

// MeasureBandwidth measures the three rates that decide which memory mode
// wins (device read, pinned host-to-device copy, mapped host read) and
// records them in Info().Props as bw_*_gbs. It takes about a second and
// 256 MiB of host and device memory; Open does not call it.
func (d *Device) MeasureBandwidth() (Bandwidth, error) {
	bw := Bandwidth{Bytes: bandwidthBytes}
	fill, err := d.Kernel("fill_u32")
	if err != nil {
		return bw, err
	}
	readsum, err := d.Kernel("readsum_f32")
	if err != nil {
		return bw, err
	}
	m, err := d.newMemory(device.Mapped, bandwidthBytes)
	if err != nil {
		return bw, fmt.Errorf("cuda: measure bandwidth: %w", err)
	}
	defer m.Close()
	if err := m.Grow(bandwidthBytes); err != nil {
		return bw, fmt.Errorf("cuda: measure bandwidth: %w", err)
	}
	host := m.Bytes()
	for i := range host {
		host[i] = byte(i*7 + 1)
	}

	if err := d.enter(); err != nil {
		return bw, err
	}
	defer d.leave()
	drv := d.drv
	if err := d.fits(bandwidthBytes); err != nil {
		return bw, fmt.Errorf("cuda: measure bandwidth: %w", err)
	}
	var dev uint64
	if err := drv.check("cuMemAlloc", call(drv.cuMemAlloc, uintptr(unsafe.Pointer(&dev)), bandwidthBytes)); err != nil {
		return bw, fmt.Errorf("cuda: measure bandwidth: %w", err)
	}
	d.liveDevice.Add(bandwidthBytes)
	defer func() {
		call(drv.cuMemFree, uintptr(dev))
		d.liveDevice.Add(-bandwidthBytes)
	}()

	hostAddr, err := m.Addr(device.Span{Off: 0, Len: bandwidthBytes})
	if err != nil {
		return bw, err
	}
	sms := uint32(d.attr(attrMultiprocessorCount))
	if sms == 0 || sms > 1<<12 {
		sms = 128
	}
	grid, block := Dim3{X: sms * 8}, Dim3{X: 256}
	if err := m.Launch(fill, grid, block, 0, dev, uint64(bandwidthBytes/4), uint32(0x3f800000)); err != nil {
		return bw, err
	}

	const passes = 5
	rate := func(op func() error) (float64, error) {
		if err := op(); err != nil { // warm-up
			return 0, err
		}
		if err := drv.check("cuEventRecord", call(drv.cuEventRecord, m.evStart, m.stream)); err != nil {
			return 0, err
		}
		for range passes {
			if err := op(); err != nil {
				return 0, err
			}
		}
		if err := drv.check("cuEventRecord", call(drv.cuEventRecord, m.evStop, m.stream)); err != nil {
			return 0, err
		}
		if err := drv.check("cuStreamSynchronize", call(drv.cuStreamSynchronize, m.stream)); err != nil {
			return 0, err
		}
		if err := drv.check("cuEventElapsedTime", call(drv.cuEventElapsedTime, uintptr(unsafe.Pointer(&m.ms)), m.evStart, m.evStop)); err != nil {
			return 0, err
		}
		return float64(passes) * bandwidthBytes / (float64(m.ms) / 1e3) / 1e9, nil
	}
	read := func(p uint64) func() error {
		return func() error { return m.Launch(readsum, grid, block, 0, p, uint64(bandwidthBytes/16), dev) }
	}
	if bw.DeviceRead, err = rate(read(dev)); err != nil {
		return bw, fmt.Errorf("cuda: measure device read: %w", err)
	}
	if bw.MappedRead, err = rate(read(hostAddr)); err != nil {
		return bw, fmt.Errorf("cuda: measure mapped read: %w", err)
	}
	if bw.HtoDPinned, err = rate(func() error {
		return drv.check("cuMemcpyHtoDAsync", call(drv.cuMemcpyHtoDAsync, uintptr(dev), m.base, bandwidthBytes, m.stream))
	}); err != nil {
		return bw, fmt.Errorf("cuda: measure pinned copy: %w", err)
	}

	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	d.setProp("bw_device_read_gbs", f(bw.DeviceRead))
	d.setProp("bw_mapped_read_gbs", f(bw.MappedRead))
	d.setProp("bw_htod_pinned_gbs", f(bw.HtoDPinned))
	d.setProp("bw_bytes", strconv.FormatUint(bandwidthBytes, 10))
	return bw, nil
}
