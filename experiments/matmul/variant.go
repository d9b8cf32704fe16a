package matmul

import (
	"context"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/matcheck"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// variant is one way of getting C = A·B computed: natively or from the
// guest, in one memory mode. Each holds its own memory with A and B filled.
type variant interface {
	// run computes C = A·B once and returns the device's report.
	run(ctx context.Context) (device.KernelReport, error)
	// check poisons C, runs once and returns the max relative error.
	check(ctx context.Context, work int) (float64, error)
	// operands are the addresses of A, B and C in the linear memory.
	operands() []uintptr
	stats() device.Stats
	close(ctx context.Context) error
}

// nativeVariant drives the device from host Go: no Wasm.
type nativeVariant struct {
	mem     device.Memory
	a, b, c device.Span
	m, n, k int
	A, B, C []float32
}

func newNative(d device.Device, mode device.Mode, m, n, k int, seed uint64) (*nativeVariant, error) {
	la, lb, lc := uint64(m*k*4), uint64(k*n*4), uint64(m*n*4)
	total := la + lb + lc
	mem, err := d.NewMemory(mode, total)
	if err != nil {
		return nil, fmt.Errorf("native %s memory: %w", mode, err)
	}
	if err := mem.Grow(total); err != nil {
		mem.Close()
		return nil, fmt.Errorf("native %s memory: %w", mode, err)
	}
	v := &nativeVariant{mem: mem, m: m, n: n, k: k,
		a: device.Span{Off: 0, Len: la}, b: device.Span{Off: la, Len: lb}, c: device.Span{Off: la + lb, Len: lc}}
	f := unsafe.Slice((*float32)(unsafe.Pointer(&mem.Bytes()[0])), total/4)
	v.A, v.B, v.C = f[:m*k], f[m*k:m*k+k*n], f[m*k+k*n:]
	matcheck.Fill(seed, v.A)
	matcheck.Fill(seed+1, v.B)
	matcheck.Poison(v.C)
	if r, ok := mem.(device.Residenter); ok {
		if err := r.Upload(device.Span{Off: 0, Len: la + lb}); err != nil {
			mem.Close()
			return nil, fmt.Errorf("native %s upload: %w", mode, err)
		}
	}
	return v, nil
}

func (v *nativeVariant) run(context.Context) (device.KernelReport, error) {
	return v.mem.MatMul(v.a, v.b, v.c, v.m, v.n, v.k)
}

func (v *nativeVariant) check(ctx context.Context, work int) (float64, error) {
	matcheck.Poison(v.C)
	if r, ok := v.mem.(device.Residenter); ok {
		if err := r.Upload(v.c); err != nil {
			return math.NaN(), err
		}
	}
	if _, err := v.run(ctx); err != nil {
		return math.NaN(), err
	}
	if r, ok := v.mem.(device.Residenter); ok {
		if err := r.Download(v.c); err != nil {
			return math.NaN(), err
		}
	}
	return matcheck.MaxRelErr(v.A, v.B, v.C, v.m, v.n, v.k, work), nil
}

func (v *nativeVariant) operands() []uintptr {
	base := uintptr(unsafe.Pointer(&v.mem.Bytes()[0]))
	return []uintptr{base + uintptr(v.a.Off), base + uintptr(v.b.Off), base + uintptr(v.c.Off)}
}

func (v *nativeVariant) stats() device.Stats { return v.mem.Stats() }

func (v *nativeVariant) close(context.Context) error { return v.mem.Close() }

// wasmVariant has the guest fill A and B in its linear memory and ask the
// host for the product through the ABI.
type wasmVariant struct {
	rt *wasm.Runtime
	g  *wasm.Guest
}

func newWasm(ctx context.Context, rt *wasm.Runtime, d device.Device, mode device.Mode, m, n, k int, seed uint64) (*wasmVariant, error) {
	g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) { return d.NewMemory(mode, max) })
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", mode, err)
	}
	if _, err := g.Call(ctx, "mm_setup", uint64(m), uint64(n), uint64(k), seed); err != nil {
		g.Close(ctx)
		return nil, fmt.Errorf("wasm %s: %w", mode, err)
	}
	return &wasmVariant{rt: rt, g: g}, nil
}

func (v *wasmVariant) run(ctx context.Context) (device.KernelReport, error) {
	if _, err := v.g.Call(ctx, "mm_run"); err != nil {
		return device.KernelReport{}, err
	}
	return v.g.Last, nil
}

func (v *wasmVariant) check(ctx context.Context, work int) (float64, error) {
	if _, err := v.g.Call(ctx, "mm_poison"); err != nil {
		return math.NaN(), err
	}
	if _, err := v.run(ctx); err != nil {
		return math.NaN(), err
	}
	res, err := v.g.Call(ctx, "mm_check", uint64(work))
	if err != nil {
		return math.NaN(), err
	}
	return math.Float64frombits(res[0]), nil
}

func (v *wasmVariant) operands() []uintptr {
	base := v.g.Base()
	out := make([]uintptr, 3)
	for i := range out {
		res, err := v.g.Call(context.Background(), "mm_ptr", uint64(i))
		if err != nil {
			return nil
		}
		out[i] = base + uintptr(res[0])
	}
	return out
}

func (v *wasmVariant) stats() device.Stats { return v.g.Memory().Stats() }

func (v *wasmVariant) close(ctx context.Context) error { return v.g.Close(ctx) }

// timeRun times one run on the host clock.
func timeRun(ctx context.Context, v variant) (time.Duration, device.KernelReport, error) {
	start := time.Now()
	rep, err := v.run(ctx)
	return experiments.Elapsed(start), rep, err
}
