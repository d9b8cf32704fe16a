package cuda

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Kernel is a compiled kernel from kernels/*.cu, found by its extern "C"
// name. Get one with Device.Kernel once and launch it many times.
type Kernel struct {
	Name string
	fn   uintptr // CUfunction
}

// Dim3 is a CUDA grid or block shape. Zero fields count as 1, so
// Dim3{X: n} is a one-dimensional shape.
type Dim3 struct{ X, Y, Z uint32 }

func (d Dim3) norm() (x, y, z uintptr) {
	one := func(v uint32) uintptr {
		if v == 0 {
			return 1
		}
		return uintptr(v)
	}
	return one(d.X), one(d.Y), one(d.Z)
}

// maxKernelArgs bounds a launch's parameter count.
const maxKernelArgs = 24

// argBlock is the kernelParams array cuLaunchKernel reads: ptrs[i] points at
// slots[i]. It lives inside a Memory, set up once, so packing a launch's
// arguments writes into memory that already exists: no allocation per call.
type argBlock struct {
	slots [maxKernelArgs]uint64
	ptrs  [maxKernelArgs]unsafe.Pointer
}

func (a *argBlock) init() {
	for i := range a.slots {
		a.ptrs[i] = unsafe.Pointer(&a.slots[i])
	}
}

// pack stores args in the slots, each in the low bytes of its 8-byte slot
// (all supported platforms are little-endian), so a kernel parameter of 4
// bytes reads exactly the value. Go's int is rejected: its size differs
// from C's int, and a silent mismatch corrupts every later parameter.
func (a *argBlock) pack(args []any) error {
	if len(args) > maxKernelArgs {
		return fmt.Errorf("%d kernel arguments, at most %d", len(args), maxKernelArgs)
	}
	for i, v := range args {
		switch x := v.(type) {
		case uint64:
			a.slots[i] = x
		case int64:
			a.slots[i] = uint64(x)
		case uintptr:
			a.slots[i] = uint64(x)
		case uint32:
			a.slots[i] = uint64(x)
		case int32:
			a.slots[i] = uint64(uint32(x))
		case float32:
			a.slots[i] = uint64(math.Float32bits(x))
		case float64:
			a.slots[i] = math.Float64bits(x)
		default:
			return fmt.Errorf("kernel argument %d: unsupported type (want int32, uint32, int64, uint64, uintptr, float32 or float64)", i)
		}
	}
	return nil
}

// Kernel returns the kernel named name. The first call compiles every
// kernels/*.cu file with NVRTC for this device's compute capability (or
// loads the PTX from the disk cache) and loads the modules; compile errors
// carry NVRTC's log.
func (d *Device) Kernel(name string) (*Kernel, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.kernels[name]; k != nil {
		return k, nil
	}
	if d.closed {
		return nil, fmt.Errorf("cuda: kernel %s: device is closed", name)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	if err := d.loadModules(); err != nil {
		return nil, err
	}
	cname := cString(name)
	for _, mod := range d.modules {
		var fn uintptr
		r := call(d.drv.cuModuleGetFunction, uintptr(unsafe.Pointer(&fn)), mod, uintptr(unsafe.Pointer(&cname[0])))
		if r == cudaErrorNotFound {
			continue
		}
		if err := d.drv.check("cuModuleGetFunction", r); err != nil {
			return nil, fmt.Errorf("cuda: kernel %s: %w", name, err)
		}
		k := &Kernel{Name: name, fn: fn}
		d.kernels[name] = k
		return k, nil
	}
	return nil, fmt.Errorf("cuda: kernel %s: no extern \"C\" __global__ function of that name in kernels/*.cu", name)
}

// loadModules compiles and loads kernels/*.cu once; later calls return the
// first call's error. d.mu is held and the context current.
func (d *Device) loadModules() error {
	if d.loaded {
		return d.loadErr
	}
	d.loaded = true
	srcs, err := kernels.CUDASources()
	if err != nil {
		d.loadErr = fmt.Errorf("cuda: %w", err)
		return d.loadErr
	}
	headers, err := kernels.CUDAHeaders()
	if err != nil {
		d.loadErr = fmt.Errorf("cuda: %w", err)
		return d.loadErr
	}
	opts := nvrtcOptions(d.cc)
	start := time.Now()
	hits := 0
	for _, src := range srcs {
		ptx, cached, err := d.rtc.compileCached(src.Name, src.Text, headers, opts, d.cc)
		if err != nil {
			d.loadErr = fmt.Errorf("cuda: %w", err)
			return d.loadErr
		}
		if cached {
			hits++
		}
		var mod uintptr
		if err := d.drv.check("cuModuleLoadData", call(d.drv.cuModuleLoadData, uintptr(unsafe.Pointer(&mod)), uintptr(unsafe.Pointer(&ptx[0])))); err != nil {
			d.loadErr = fmt.Errorf("cuda: load %s: %w", src.Name, err)
			return d.loadErr
		}
		d.modules = append(d.modules, mod)
	}
	d.info.Props["kernels_load_ms"] = strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 1, 64)
	d.info.Props["kernels_ptx_cache"] = fmt.Sprintf("%d/%d hits (%s)", hits, len(srcs), strings.Join(opts, " "))
	return nil
}

// Launch enqueues kernel k on the Memory's stream and returns without
// waiting (Sync waits). Arguments are int32, uint32, int64, uint64, uintptr,
// float32 or float64, matching the kernel's parameters in order; pointers
// are device addresses from Addr. Packing reuses the Memory's argument
// block, so a launch allocates nothing.
func (m *Memory) Launch(k *Kernel, grid, block Dim3, shmem uint32, args ...any) error {
	if m.closed {
		return errClosed
	}
	if err := m.args.pack(args); err != nil {
		return fmt.Errorf("cuda: launch %s: %w", k.Name, err)
	}
	d := m.d
	if err := d.enter(); err != nil {
		return err
	}
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	r := call(d.drv.cuLaunchKernel, k.fn, gx, gy, gz, bx, by, bz, uintptr(shmem), m.stream,
		uintptr(unsafe.Pointer(&m.args.ptrs[0])), 0)
	d.leave()
	if r != 0 {
		return fmt.Errorf("cuda: launch %s: %w", k.Name, d.drv.check("cuLaunchKernel", r))
	}
	m.stats.KernelsLaunch++
	return nil
}

// matmulTiled runs kernels/sgemm.cu's tiled kernel on the Memory's own
// addresses (not copy mode) and waits: the cross-check for cuBLAS.
func (m *Memory) matmulTiled(a, b, c device.Span, rows, cols, inner int) error {
	ops, err := m.checkGemm(a, b, c, rows, cols, inner)
	if err != nil {
		return err
	}
	var p [3]uint64
	for i := range ops {
		if p[i], err = m.Addr(ops[i]); err != nil {
			return err
		}
	}
	k, err := m.d.Kernel("sgemm_f32_tiled")
	if err != nil {
		return err
	}
	grid := Dim3{X: uint32((cols + 15) / 16), Y: uint32((rows + 15) / 16)}
	if err := m.Launch(k, grid, Dim3{X: 16, Y: 16}, 0, p[0], p[1], p[2], int32(rows), int32(cols), int32(inner)); err != nil {
		return err
	}
	return m.Sync()
}
