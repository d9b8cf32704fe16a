package cuda

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Options tune Open. The zero value is what experiments use by default.
type Options struct {
	// Ordinal picks the GPU (cuDeviceGet ordinal); 0 is the first.
	Ordinal int
	// TF32 lets cuBLAS round fp32 GEMM inputs to TF32 and use tensor cores
	// (CUBLAS_TF32_TENSOR_OP_MATH). Off by default: results then match a
	// float64 reference to fp32 accuracy. Recorded in Info().Props["math"].
	TF32 bool
	// PrefetchManaged makes managed-mode MatMul call cuMemPrefetchAsync on
	// its operand spans before the GEMM, turning page-fault migration into
	// bulk copies. Off by default: the point of managed mode is to measure
	// the driver migrating on touch. Recorded in Props["managed_prefetch"].
	PrefetchManaged bool
	// PinnedCopy makes copy mode register (pin, without device mapping) the
	// linear memory as it grows, so MatMul's copies are DMA from pinned
	// memory instead of going through the driver's pageable staging
	// (measured on an H200: about 55 GB/s pinned against well under 10
	// pageable). Off by default: a plain sandbox copies from pageable memory
	// and pins nothing. Recorded in Props["copy_pinned"].
	PinnedCopy bool
	// PrefillSplitBF16 makes prefill GEMMs (bf16 weights, n > 1) take the
	// activations as two bf16 halves, x ≈ hi + lo, and sum two tensor-core
	// GEMMs: about 2⁻¹⁷ relative per product instead of 2⁻⁹, for twice the
	// tensor work and a conversion pass. Off by default: activations are
	// rounded to bf16 once, as llama.cpp's BF16 path and transformers in
	// bf16 do (llm_linear.go). WASMGPU_CUDA_PREFILL_GEMM=bf16x2 turns it on
	// for any Open. Recorded in Props["prefill_gemm"].
	PrefillSplitBF16 bool
}

// prefillGEMMEnv is the variable that picks the prefill GEMMs' activation
// precision for every Open: "bf16" (the default) or "bf16x2".
const prefillGEMMEnv = "WASMGPU_CUDA_PREFILL_GEMM"

// applyEnv sets the options the environment overrides; an unknown value is
// an error naming the variable.
func (o *Options) applyEnv(getenv func(string) string) error {
	switch v := getenv(prefillGEMMEnv); v {
	case "", "bf16":
	case "bf16x2":
		o.PrefillSplitBF16 = true
	default:
		return fmt.Errorf("cuda: %s=%q: want bf16 (activations rounded once) or bf16x2 (split into two halves)", prefillGEMMEnv, v)
	}
	return nil
}

// Device is one CUDA GPU, opened through the driver API with no cgo. It
// implements device.Device. Its methods are safe for concurrent use; each
// Memory is for one goroutine at a time.
type Device struct {
	drv  *driver
	rtc  *nvrtc
	blas *cublas
	opts Options

	dev int32   // CUdevice
	ctx uintptr // the device's primary CUcontext
	cc  string  // compute capability, "90"

	mu        sync.Mutex // guards everything below
	info      device.Info
	handle    uintptr // cublasHandle_t, made on first MatMul
	handleStr uintptr // the stream the handle was last bound to
	one, zero float32 // GEMM alpha and beta; cuBLAS reads them by address
	modules   []uintptr
	loaded    bool
	loadErr   error
	kernels   map[string]*Kernel
	memories  int
	closed    bool

	// Live resources, for leak tests.
	liveDevice, livePinned, liveManaged atomic.Int64
}

var _ device.Device = (*Device)(nil)

// Open opens the first GPU with default Options.
func Open() (*Device, error) { return OpenWith(Options{}) }

// OpenWith loads libcuda, libnvrtc and libcublas, initializes the driver and
// retains the device's primary context. It does not compile kernels or
// create the cuBLAS handle (both happen on first use) and does not measure
// bandwidth (see MeasureBandwidth), so it stays fast. A missing library, a
// driver that fails to initialize or no GPU gives an error wrapping
// device.ErrNoDevice that says what was missing.
func OpenWith(opts Options) (*Device, error) {
	if err := opts.applyEnv(os.Getenv); err != nil {
		return nil, err
	}
	d := &Device{drv: &driver{}, rtc: &nvrtc{}, blas: &cublas{}, opts: opts, one: 1, kernels: map[string]*Kernel{}}

	h, path, err := libCUDA.open()
	if err != nil {
		return nil, err
	}
	d.drv.path = path
	if err := d.drv.load(h); err != nil {
		return nil, err
	}
	if err := d.drv.check("cuInit", call(d.drv.cuInit, 0)); err != nil {
		return nil, fmt.Errorf("%w: %w (%s)", device.ErrNoDevice, err, path)
	}
	var count int32
	if err := d.drv.check("cuDeviceGetCount", call(d.drv.cuDeviceGetCount, uintptr(unsafe.Pointer(&count)))); err != nil {
		return nil, fmt.Errorf("%w: %w", device.ErrNoDevice, err)
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: %w (driver %s loaded, 0 devices)", device.ErrNoDevice, errNoCUDA, path)
	}
	if opts.Ordinal < 0 || opts.Ordinal >= int(count) {
		return nil, fmt.Errorf("%w: CUDA device ordinal %d out of range (%d devices)", device.ErrNoDevice, opts.Ordinal, count)
	}

	for _, l := range []struct {
		lib  library
		path *string
		load func(uintptr) error
	}{{libNVRTC, &d.rtc.path, d.rtc.load}, {libCUBLAS, &d.blas.path, d.blas.load}} {
		h, p, err := l.lib.open()
		if err != nil {
			return nil, err
		}
		*l.path = p
		if err := l.load(h); err != nil {
			return nil, err
		}
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.drv.check("cuDeviceGet", call(d.drv.cuDeviceGet, uintptr(unsafe.Pointer(&d.dev)), uintptr(opts.Ordinal))); err != nil {
		return nil, fmt.Errorf("%w: %w", device.ErrNoDevice, err)
	}
	if err := d.drv.check("cuDevicePrimaryCtxRetain", call(d.drv.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&d.ctx)), uintptr(d.dev))); err != nil {
		return nil, fmt.Errorf("%w: %w", device.ErrNoDevice, err)
	}
	if err := d.drv.check("cuCtxSetCurrent", call(d.drv.cuCtxSetCurrent, d.ctx)); err != nil {
		d.release()
		return nil, err
	}
	if err := d.describe(); err != nil {
		d.release()
		return nil, err
	}
	return d, nil
}

// enter makes the device's context current on the calling goroutine's OS
// thread and keeps the goroutine on that thread until leave. See the
// package documentation for why this, and not a server goroutine.
func (d *Device) enter() error {
	runtime.LockOSThread()
	if r := call(d.drv.cuCtxSetCurrent, d.ctx); r != 0 {
		runtime.UnlockOSThread()
		return d.drv.check("cuCtxSetCurrent", r)
	}
	return nil
}

// leave ends what enter began.
func (d *Device) leave() { runtime.UnlockOSThread() }

// attr reads one device attribute; -1 if the driver refuses.
func (d *Device) attr(a int) int {
	var v int32
	if call(d.drv.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), uintptr(d.dev)) != 0 {
		return -1
	}
	return int(v)
}

// describe fills d.info from the driver, the device's attributes and sysfs.
func (d *Device) describe() error {
	name := make([]byte, 256)
	if err := d.drv.check("cuDeviceGetName", call(d.drv.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), uintptr(d.dev))); err != nil {
		return err
	}
	var ver int32
	if err := d.drv.check("cuDriverGetVersion", call(d.drv.cuDriverGetVersion, uintptr(unsafe.Pointer(&ver)))); err != nil {
		return err
	}
	var total uint64
	if err := d.drv.check("cuDeviceTotalMem", call(d.drv.cuDeviceTotalMem, uintptr(unsafe.Pointer(&total)), uintptr(d.dev))); err != nil {
		return err
	}
	free, _, err := d.memInfo()
	if err != nil {
		return err
	}
	bus := make([]byte, 64)
	if err := d.drv.check("cuDeviceGetPCIBusId", call(d.drv.cuDeviceGetPCIBusId, uintptr(unsafe.Pointer(&bus[0])), uintptr(len(bus)), uintptr(d.dev))); err != nil {
		return err
	}
	busID := cTrim(bus)

	major, minor := d.attr(attrComputeCapabilityMajor), d.attr(attrComputeCapabilityMinor)
	d.cc = fmt.Sprintf("%d%d", major, minor)
	math := "fp32"
	if d.opts.TF32 {
		math = "tf32"
	}
	cudaVer := fmt.Sprintf("CUDA %d.%d", ver/1000, ver%1000/10)
	drv := cudaVer
	if kmod := kernelModuleVersion(); kmod != "" {
		drv = kmod + " (" + cudaVer + ")"
	}
	props := map[string]string{
		"compute_capability":                      fmt.Sprintf("%d.%d", major, minor),
		"sm_count":                                strconv.Itoa(d.attr(attrMultiprocessorCount)),
		"l2_bytes":                                strconv.Itoa(d.attr(attrL2CacheSize)),
		"memory_bus_bits":                         strconv.Itoa(d.attr(attrGlobalMemoryBusWidth)),
		"memory_total_bytes":                      strconv.FormatUint(total, 10),
		"memory_free_bytes_at_open":               strconv.FormatUint(free, 10),
		"pci_bus_id":                              busID,
		"unified_addressing":                      strconv.Itoa(d.attr(attrUnifiedAddressing)),
		"managed_memory":                          strconv.Itoa(d.attr(attrManagedMemory)),
		"concurrent_managed_access":               strconv.Itoa(d.attr(attrConcurrentManagedAccess)),
		"pageable_memory_access":                  strconv.Itoa(d.attr(attrPageableMemoryAccess)),
		"host_register_supported":                 strconv.Itoa(d.attr(attrHostRegisterSupported)),
		"can_use_host_pointer_for_registered_mem": strconv.Itoa(d.attr(attrCanUseHostPointerForRegistered)),
		"cuda_driver_api":                         strconv.Itoa(int(ver)),
		"nvrtc_version":                           fmt.Sprintf("%d.%d", d.rtc.major, d.rtc.minor),
		"libcuda":                                 d.drv.path,
		"libnvrtc":                                d.rtc.path,
		"libcublas":                               d.blas.path,
		"math":                                    math,
		"managed_prefetch":                        strconv.FormatBool(d.opts.PrefetchManaged),
		"copy_pinned":                             strconv.FormatBool(d.opts.PinnedCopy),
		"prefill_gemm":                            prefillGEMMName(d.opts.PrefillSplitBF16),
		"attention_kernels":                       fmt.Sprintf("attn_prefill %v, attn_decode %v", attnPrefillOn, attnDecodeOn),
		"program_graphs":                          strconv.FormatBool(programGraphs),
		"threading":                               "caller thread: LockOSThread + cuCtxSetCurrent per call",
	}
	if d.blas.cublasGetVersion != 0 {
		var v int32
		if call(d.blas.cublasGetVersion, 0, uintptr(unsafe.Pointer(&v))) == 0 {
			props["cublas_version"] = strconv.Itoa(int(v))
		}
	}
	for k, v := range pcieLink(busID) {
		props[k] = v
	}
	d.info = device.Info{Backend: "cuda", Name: cTrim(name), Driver: drv, Props: props}
	return nil
}

// prefillGEMMName names the prefill GEMMs' activation precision for Props.
func prefillGEMMName(split bool) string {
	if split {
		return "bf16x2 (activations as bf16 hi+lo, two GEMMs, float32 accumulation)"
	}
	return "bf16 (activations rounded to bf16 once, float32 accumulation)"
}

// memInfo returns the device's free and total memory (cuMemGetInfo). The
// context must be current.
func (d *Device) memInfo() (free, total uint64, err error) {
	err = d.drv.check("cuMemGetInfo", call(d.drv.cuMemGetInfo, uintptr(unsafe.Pointer(&free)), uintptr(unsafe.Pointer(&total))))
	return free, total, err
}

// MemInfo returns the device's free and total memory in bytes.
func (d *Device) MemInfo() (free, total uint64, err error) {
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.leave()
	return d.memInfo()
}

// Info describes the device: name, driver, and in Props the compute
// capability, memory, PCI bus id and link, library paths, math mode, and
// bandwidths once MeasureBandwidth has run.
func (d *Device) Info() device.Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := d.info
	info.Props = make(map[string]string, len(d.info.Props))
	for k, v := range d.info.Props {
		info.Props[k] = v
	}
	return info
}

// setProp records a fact in Info().Props.
func (d *Device) setProp(k, v string) {
	d.mu.Lock()
	d.info.Props[k] = v
	d.mu.Unlock()
}

// Modes lists copy, mapped, managed and resident; copy is the default
// because it is the sandbox control every other mode is compared against.
func (d *Device) Modes() []device.Mode {
	return []device.Mode{device.Copy, device.Mapped, device.Managed, device.Resident}
}

// Close releases the cuBLAS handle, the kernel modules and the primary
// context. It fails if a Memory is still open.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	if d.memories > 0 {
		return fmt.Errorf("cuda: close device: %d memories still open", d.memories)
	}
	d.closed = true
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	var errs []error
	if d.handle != 0 {
		errs = append(errs, cublasError("cublasDestroy_v2", call(d.blas.cublasDestroy, d.handle)))
		d.handle = 0
	}
	for _, m := range d.modules {
		errs = append(errs, d.drv.check("cuModuleUnload", call(d.drv.cuModuleUnload, m)))
	}
	d.modules = nil
	errs = append(errs, d.release())
	return joinErrs("cuda: close device", errs)
}

// release drops the primary context retained by Open.
func (d *Device) release() error {
	return d.drv.check("cuDevicePrimaryCtxRelease", call(d.drv.cuDevicePrimaryCtxRelease, uintptr(d.dev)))
}

// blasHandle returns the cuBLAS handle bound to stream, creating it on
// first use. d.mu must be held.
func (d *Device) blasHandle(stream uintptr) (uintptr, error) {
	if d.handle == 0 {
		var h uintptr
		if err := cublasError("cublasCreate_v2", call(d.blas.cublasCreate, uintptr(unsafe.Pointer(&h)))); err != nil {
			return 0, err
		}
		mode := cublasDefaultMath
		if d.opts.TF32 {
			mode = cublasTF32TensorOpMath
		}
		if err := cublasError("cublasSetMathMode", call(d.blas.cublasSetMathMode, h, uintptr(mode))); err != nil {
			call(d.blas.cublasDestroy, h)
			return 0, err
		}
		d.handle, d.handleStr = h, ^uintptr(0)
	}
	if d.handleStr != stream {
		if err := cublasError("cublasSetStream_v2", call(d.blas.cublasSetStream, d.handle, stream)); err != nil {
			return 0, err
		}
		d.handleStr = stream
	}
	return d.handle, nil
}

// cTrim returns the NUL-terminated string at the start of b.
func cTrim(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// kernelModuleVersion reads the NVIDIA kernel module's version (the number
// nvidia-smi calls the driver version) from /proc; empty if unavailable.
func kernelModuleVersion() string {
	b, err := os.ReadFile("/proc/driver/nvidia/version")
	if err != nil {
		return ""
	}
	// "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ..."
	for _, w := range strings.Fields(string(b)) {
		if isVersion(w) {
			return w
		}
	}
	return ""
}

// isVersion reports whether w looks like 580.159.04: digits and at least one dot.
func isVersion(w string) bool {
	dots := 0
	for i, r := range w {
		switch {
		case r == '.' && i > 0 && i < len(w)-1:
			dots++
		case r < '0' || r > '9':
			return false
		}
	}
	return dots > 0
}

// joinErrs wraps the non-nil errors in errs under prefix, or returns nil.
func joinErrs(prefix string, errs []error) error {
	var msgs []string
	var first error
	for _, e := range errs {
		if e != nil {
			if first == nil {
				first = e
			}
			msgs = append(msgs, e.Error())
		}
	}
	if first == nil {
		return nil
	}
	if len(msgs) == 1 {
		return fmt.Errorf("%s: %w", prefix, first)
	}
	return fmt.Errorf("%s: %w (and: %s)", prefix, first, strings.Join(msgs[1:], "; "))
}
