//go:build darwin

package metal

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/ebitengine/purego/objc"
	"golang.org/x/sys/unix"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/region"
)

// Device is the system default Metal GPU (MTLCreateSystemDefaultDevice) with
// one command queue, the compiled MSL kernels and cached MPS GEMM kernels.
// Its methods may be called from any goroutine; the Objective-C work runs on
// the Device's own locked OS thread.
type Device struct {
	w *worker

	mu     sync.Mutex // guards open and closed
	open   int        // Memories not yet closed
	closed bool

	// Owned Objective-C objects and caches, touched only on the Metal thread.
	dev, queue, lib objc.ID
	pipes           map[string]pipeline
	gemms           map[gemmKey]objc.ID

	info      device.Info // set by setup, read-only afterwards
	maxBuffer uint64      // -maxBufferLength: the largest MTLBuffer, no-copy ones included
	msl       [2]uint     // MSL version the kernels were compiled for
}

var _ device.Device = (*Device)(nil)

// Open creates the system default Metal device, its command queue, and the
// compute pipelines for the MSL kernels in package kernels. It returns an
// error wrapping device.ErrNoDevice when the frameworks or a Metal GPU that
// Metal Performance Shaders supports are missing.
func Open() (*Device, error) {
	if err := loadRuntime(); err != nil {
		return nil, err
	}
	d := &Device{
		w:     startWorker(),
		pipes: map[string]pipeline{},
		gemms: map[gemmKey]objc.ID{},
	}
	if err := d.w.do(d.setup); err != nil {
		_ = d.w.do(func() error { d.releaseAll(); return nil })
		d.w.stop()
		return nil, err
	}
	return d, nil
}

// setup runs on the Metal thread.
func (d *Device) setup() error {
	d.dev = rt.createSystemDefaultDevice()
	if d.dev == 0 {
		return fmt.Errorf("metal: MTLCreateSystemDefaultDevice returned nil (no Metal GPU): %w", device.ErrNoDevice)
	}
	name := goString(msg.id(d.dev, sel.name))
	if !rt.mpsSupportsDevice(d.dev) {
		return fmt.Errorf("metal: MPSSupportsMTLDevice is false for %q: %w", name, device.ErrNoDevice)
	}
	if d.queue = msg.id(d.dev, sel.newCommandQueue); d.queue == 0 {
		return fmt.Errorf("metal: newCommandQueue on %q returned nil", name)
	}
	d.maxBuffer = uint64(msg.u(d.dev, sel.maxBufferLength))
	product, _ := unix.Sysctl("kern.osproductversion") // "14.5"; "" if unknown
	major, minor, err := mslVersionFor(product)
	if err != nil {
		return err
	}
	d.msl = [2]uint{major, minor}
	d.info = d.describe(name, product)
	return d.compileKernels()
}

// describe gathers provenance on the Metal thread.
func (d *Device) describe(name, product string) device.Info {
	procInfo := msg.id(objc.ID(rt.cls.nsProcessInfo), sel.processInfo) // shared instance, not owned
	chip, err := unix.Sysctl("machdep.cpu.brand_string")
	if err != nil {
		chip = "unknown (" + err.Error() + ")"
	}
	return device.Info{
		Backend: "metal",
		Name:    name,
		Driver:  "macOS " + product,
		Props: map[string]string{
			"chip":                              chip,
			"os":                                goString(msg.id(procInfo, sel.operatingSystemVersionString)),
			"unified_memory":                    strconv.FormatBool(msg.b(d.dev, sel.hasUnifiedMemory)),
			"recommended_max_working_set_bytes": strconv.FormatUint(uint64(msg.u(d.dev, sel.recommendedMaxWorkingSetSize)), 10),
			"max_buffer_length_bytes":           strconv.FormatUint(d.maxBuffer, 10),
			"page_size":                         strconv.FormatUint(region.PageSize, 10),
			"msl_version":                       fmt.Sprintf("%d.%d", d.msl[0], d.msl[1]),
			"gemm":                              "MPSMatrixMultiplication fp32",
			"gpu_cores":                         "not read (IORegistry gpu-core-count needs IOKit, not wrapped)",
		},
	}
}

// Info describes the GPU, the OS and the chip for results provenance.
func (d *Device) Info() device.Info {
	info := d.info
	info.Props = make(map[string]string, len(d.info.Props))
	for k, v := range d.info.Props {
		info.Props[k] = v
	}
	return info
}

// Modes lists zerocopy (the default) and copy.
func (d *Device) Modes() []device.Mode { return []device.Mode{device.ZeroCopy, device.Copy} }

// NewMemory reserves max bytes (rounded up to whole pages) of address space
// for a guest's linear memory, to be used by this GPU in mode. The reservation
// costs nothing until touched; call Grow with the guest's initial size.
func (d *Device) NewMemory(mode device.Mode, max uint64) (device.Memory, error) {
	if mode != device.ZeroCopy && mode != device.Copy {
		return nil, fmt.Errorf("metal: mode %q: %w", mode, device.ErrUnsupportedMode)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	b, err := region.Reserve(max)
	if err != nil {
		return nil, fmt.Errorf("metal: %w", err)
	}
	d.open++
	return &Memory{d: d, mode: mode, mem: b}, nil
}

// memoryClosed is called by Memory.Close.
func (d *Device) memoryClosed() {
	d.mu.Lock()
	d.open--
	d.mu.Unlock()
}

// Close releases the queue, kernels and device and ends the Metal thread.
// Every Memory must be closed first; otherwise Close fails and changes nothing.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	if d.open > 0 {
		return fmt.Errorf("metal: close device: %d memories still open; close them first", d.open)
	}
	d.closed = true
	err := d.w.do(func() error { d.releaseAll(); return nil })
	d.w.stop()
	return err
}

// releaseAll releases every owned object; it runs on the Metal thread and is
// safe on a partly set-up Device.
func (d *Device) releaseAll() {
	for k, g := range d.gemms {
		release(g)
		delete(d.gemms, k)
	}
	for k, p := range d.pipes {
		release(p.pso)
		delete(d.pipes, k)
	}
	release(d.lib)
	release(d.queue)
	release(d.dev) // MTLCreateSystemDefaultDevice follows the Create rule: we own it
	d.lib, d.queue, d.dev = 0, 0, 0
}
