// Package wasm is the WebAssembly host: it compiles the guest once, gives each
// guest instance a linear memory that a compute device can see, and exposes the
// device to the guest through a small host ABI of kernels that take offsets.
//
// Four decisions carry the zero-copy chain and its sandbox (RATIONALE.md says more):
//
//   - The linear memory comes from device.Device.NewMemory and is installed
//     with wazero's experimental.WithMemoryAllocator. Its base never moves
//     when the guest grows, so a device mapping made once stays valid.
//     wazero's default allocator moves the base on growth.
//   - The memory limit is set per Runtime (Config.MaxMemory): wazero reserves
//     that much address space for every instance, 4 GiB if left unset.
//   - Every guest is bounded in time and host work (Limits, limits.go): each
//     call has a deadline, compiled with wazero's WithCloseOnContextDone so
//     that even a loop with no host call ends at it, and the device's
//     kernels stop between chunks. A stopped guest is closed; the others
//     run on.
//   - Every (ptr, len) a guest passes is checked against the current memory
//     size in 64-bit arithmetic before a device sees it; a violation traps the
//     guest with a TrapError naming the function and the range. Without the
//     check, zero-copy would let a guest make a device read or write host
//     memory outside its sandbox.
//
// Host functions are registered with api.GoModuleFunc (about 45 ns per call;
// the reflective form costs 340 ns).
package wasm

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// pageSize is the WebAssembly page size.
const pageSize = 65536

// Config says how to build a Runtime.
type Config struct {
	// Wasm is the guest module's binary.
	Wasm []byte
	// MaxMemory is the most linear memory a guest may grow to, in bytes; it is
	// rounded up to whole 64 KiB pages. Zero means 256 MiB.
	MaxMemory uint64
	// CacheDir holds wazero's compilation cache; empty disables it.
	CacheDir string
	// Stdout and Stderr receive the guest's output; nil discards it.
	Stdout, Stderr *os.File
	// Funcs are extra host functions exported to the guest beside the core
	// ABI (see abi.go), in the same "wasmgpu" module.
	Funcs []HostFunc
	// Limits bound each guest's time and host work; zero fields take the
	// defaults (see Limits).
	Limits Limits
}

// Runtime holds a compiled guest and the host ABI; it makes guest instances.
type Runtime struct {
	cfg      Config
	maxBytes uint64
	limits   Limits // cfg.Limits with the defaults filled in
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

// New compiles the guest and registers WASI and the host ABI.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if len(cfg.Wasm) == 0 {
		return nil, fmt.Errorf("wasm runtime: no guest module")
	}
	max := cfg.MaxMemory
	if max == 0 {
		max = 256 << 20
	}
	pages := (max + pageSize - 1) / pageSize
	if pages > 65536 {
		return nil, fmt.Errorf("wasm runtime: memory limit %d bytes exceeds 4 GiB", max)
	}
	// WithCloseOnContextDone makes every compiled loop check, at each
	// iteration, whether its module was closed: without it a guest spinning
	// with no host call ignores its deadline and Close, and the host's next
	// garbage collection waits for it for ever.
	rc := wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(uint32(pages)).WithCloseOnContextDone(true)
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm runtime: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	r := &Runtime{cfg: cfg, maxBytes: pages * pageSize, limits: cfg.Limits.resolve(pages * pageSize), rt: rt}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasm runtime: instantiate WASI: %w", err)
	}
	if err := registerABI(ctx, rt, cfg.Funcs); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasm runtime: %w", err)
	}
	compiled, err := rt.CompileModule(ctx, cfg.Wasm)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasm runtime: compile guest: %w", err)
	}
	r.compiled = compiled
	return r, nil
}

// MaxMemory is the linear-memory limit in bytes every instance reserves.
func (r *Runtime) MaxMemory() uint64 { return r.maxBytes }

// Limits are the limits every guest of the runtime gets, defaults filled in.
func (r *Runtime) Limits() Limits { return r.limits }

// WithLimits returns a Runtime that shares r's compiled guest and host
// ABI but gives the guests it instantiates the limits l (zero fields take
// the defaults, as in Config.Limits): per-guest limits under one
// compilation. Close r, not the copy: closing either closes both.
func (r *Runtime) WithLimits(l Limits) *Runtime {
	c := *r
	c.cfg.Limits = l
	c.limits = l.resolve(r.maxBytes)
	return &c
}

// Close releases the runtime and every instance it made.
func (r *Runtime) Close(ctx context.Context) error {
	return r.rt.Close(ctx)
}
