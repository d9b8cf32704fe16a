package wasm

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Guest is one instance of the guest module with its own linear memory on a
// device. A Guest is not safe for concurrent calls.
type Guest struct {
	mod    api.Module
	mem    device.Memory
	linear *linearMemory
	// Last is the report of the most recent kernel the guest called.
	Last device.KernelReport
	// Calls counts host ABI calls made by this guest.
	Calls uint64
	// Weights are the model weights the guest's llm_* kernels read (see
	// llm_abi.go): host resources, loaded once per device and shareable by
	// many guests. Set them before the guest runs its engine.
	Weights device.Weights

	funcs  map[string]api.Function // exports called so far
	caller api.Module              // the instance in the host call now running
	fn     string                  // the host function now running, for traps
}

var instanceSeq atomic.Uint64

type guestKey struct{}

// Instantiate makes a new guest whose linear memory is made by newMemory
// (usually a device's NewMemory in some mode) with the runtime's memory limit,
// and runs the guest's _initialize.
func (r *Runtime) Instantiate(ctx context.Context, newMemory func(max uint64) (device.Memory, error)) (*Guest, error) {
	mem, err := newMemory(r.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("instantiate guest: linear memory: %w", err)
	}
	if uint64(len(mem.Bytes())) < r.maxBytes {
		mem.Close()
		return nil, fmt.Errorf("instantiate guest: linear memory of %d bytes is smaller than the limit %d", len(mem.Bytes()), r.maxBytes)
	}
	g := &Guest{mem: mem, linear: &linearMemory{mem: mem}}
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(
		func(_, _ uint64) experimental.LinearMemory { return g.linear }))
	ictx = context.WithValue(ictx, guestKey{}, g)
	name := fmt.Sprintf("guest-%d", instanceSeq.Add(1))
	mod, err := r.rt.InstantiateModule(ictx, r.compiled,
		wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize").
			WithStdout(orDiscard(r.cfg.Stdout)).WithStderr(orDiscard(r.cfg.Stderr)))
	if err != nil {
		// wazero does not always call Free when instantiation fails.
		g.linear.Free()
		return nil, fmt.Errorf("instantiate guest: %w", err)
	}
	g.mod = mod
	return g, nil
}

// Call calls the guest's exported function name and returns its results. A
// trap (including a host ABI bounds violation) comes back as an error.
func (g *Guest) Call(ctx context.Context, name string, args ...uint64) ([]uint64, error) {
	if g.mod == nil || g.mod.IsClosed() {
		return nil, fmt.Errorf("call %s: guest is closed", name)
	}
	// ExportedFunction makes a new call engine (with its own stack) every
	// time: keep one per export, or every call pays microseconds for it.
	f, ok := g.funcs[name]
	if !ok {
		f = g.mod.ExportedFunction(name)
		if f == nil {
			return nil, fmt.Errorf("call %s: guest exports no such function", name)
		}
		if g.funcs == nil {
			g.funcs = map[string]api.Function{}
		}
		g.funcs[name] = f
	}
	res, err := f.Call(context.WithValue(ctx, guestKey{}, g), args...)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	return res, nil
}

// Memory is the device memory backing the guest's linear memory.
func (g *Guest) Memory() device.Memory { return g.mem }

// Size is the guest's current linear memory size in bytes.
func (g *Guest) Size() uint64 { return uint64(g.mod.Memory().Size()) }

// Base is the host address of linear memory offset 0, as wazero sees it.
func (g *Guest) Base() uintptr {
	b, ok := g.mod.Memory().Read(0, 1)
	if !ok {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// Read returns a view (no copy) of n bytes at off, or false if out of range.
func (g *Guest) Read(off, n uint32) ([]byte, bool) { return g.mod.Memory().Read(off, n) }

// Close closes the instance and releases its linear memory.
func (g *Guest) Close(ctx context.Context) error {
	var err error
	if g.mod != nil && !g.mod.IsClosed() {
		err = g.mod.Close(ctx)
	}
	g.linear.Free()
	if err != nil {
		return fmt.Errorf("close guest: %w", err)
	}
	return g.linear.err
}

func guestFrom(ctx context.Context) *Guest {
	g, _ := ctx.Value(guestKey{}).(*Guest)
	return g
}
