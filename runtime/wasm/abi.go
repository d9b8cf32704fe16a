package wasm

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// ABIModule is the import module name of the host ABI: a guest declares
// `//go:wasmimport wasmgpu matmul`.
const ABIModule = "wasmgpu"

// HostFunc is a host function exported to guests in module ABIModule. Fn gets
// the calling Guest and the raw value stack (params in, results out), and
// reports a guest error by calling g.Trap, never by returning garbage.
type HostFunc struct {
	Name    string
	Params  []api.ValueType
	Results []api.ValueType
	Fn      func(ctx context.Context, g *Guest, stack []uint64)
}

var i32 = api.ValueTypeI32

// coreABI is the host ABI every guest gets.
//
//	matmul(a, a_len, b, b_len, c, c_len, m, n, k)  C = A·B, float32 row-major
//	nop(x) -> x+1                                  prices one guest→host call
//	llm_*                                          the Llama kernels (llm_abi.go)
//	llm_program_*                                  the token step as a program (llm_program.go)
func coreABI() []HostFunc {
	return slices.Concat([]HostFunc{
		{Name: "matmul", Params: []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32}, Fn: hostMatMul},
		{Name: "nop", Params: []api.ValueType{i32}, Results: []api.ValueType{i32}, Fn: func(_ context.Context, _ *Guest, stack []uint64) {
			stack[0] = uint64(uint32(stack[0]) + 1)
		}},
	}, LLMFuncs(), programFuncs()) // llm_*: see llm_abi.go and llm_program.go
}

func registerABI(ctx context.Context, rt wazero.Runtime, extra []HostFunc) error {
	b := rt.NewHostModuleBuilder(ABIModule)
	seen := map[string]bool{}
	for _, f := range append(coreABI(), extra...) {
		if seen[f.Name] {
			return fmt.Errorf("host function %s.%s registered twice", ABIModule, f.Name)
		}
		seen[f.Name] = true
		fn := f
		b = b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(
			func(ctx context.Context, mod api.Module, stack []uint64) {
				g := guestFrom(ctx)
				if g == nil || g.mod != nil && g.mod != mod {
					panic(&TrapError{Func: fn.Name, Msg: "called outside a wasmgpu guest call"})
				}
				g.Calls++
				g.caller = mod
				g.fn = fn.Name
				if g.stopping(mod) {
					panic(g.stopTrap())
				}
				defer g.leave(debug.SetPanicOnFault(true))
				fn.Fn(ctx, g, stack)
			}), fn.Params, fn.Results).Export(fn.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("register host ABI: %w", err)
	}
	return nil
}

// leave ends every host call. A panic on the way out becomes a TrapError of
// this call (a device's or gonum's panic, a memory fault reading a weights
// mapping whose file shrank: the call runs with debug.SetPanicOnFault, so a
// fault is a panic, not the death of the process). A guest that is being
// stopped traps here even if its kernel returned, as the kernel may have been
// cut short. fault is the goroutine's SetPanicOnFault setting to restore.
func (g *Guest) leave(fault bool) {
	debug.SetPanicOnFault(fault)
	r := recover()
	if g.stopping(g.caller) {
		panic(g.stopTrap())
	}
	if r == nil {
		return
	}
	t, ok := r.(*TrapError)
	switch {
	case !ok:
		err := device.Recovered(r)
		t = &TrapError{Func: g.fn, Msg: err.Error(), Err: err}
	case t.Err != nil:
		// A trap made of a recovered fault (llm_abi.go's): say what it was.
		if mf, isFault := device.Recovered(t.Err).(*device.MemoryFault); isFault {
			t = &TrapError{Func: g.fn, Msg: mf.Error(), Err: mf}
		}
	}
	if st := g.scratchTrap(t.Err); st != nil {
		t = st
	}
	panic(t)
}

// stopTrap is the trap of a host call made, or running, while the guest is
// being stopped; Guest.Call reports why it was stopped instead.
func (g *Guest) stopTrap() *TrapError {
	return &TrapError{Func: g.fn, Msg: "the guest is being stopped"}
}

// hostMatMul is matmul(a, a_len, b, b_len, c, c_len, m, n, k).
func hostMatMul(_ context.Context, g *Guest, stack []uint64) {
	a := g.Span("A", stack[0], stack[1])
	b := g.Span("B", stack[2], stack[3])
	c := g.Span("C", stack[4], stack[5])
	m, n, k := api.DecodeU32(stack[6]), api.DecodeU32(stack[7]), api.DecodeU32(stack[8])
	g.NoOverlap([]device.Span{a, b}, []device.Span{c})
	for _, op := range []struct {
		name string
		s    device.Span
		r, c uint32
	}{{"A", a, m, k}, {"B", b, k, n}, {"C", c, m, n}} {
		// r·c < 2^64 always; ·4 can wrap (m = k = 2^31), so compare the
		// element count with the span's, and the span's bytes with 4·that.
		if elems := uint64(op.r) * uint64(op.c); op.s.Len%4 != 0 || op.s.Len/4 != elems {
			g.Trap("%s is %d bytes, want %d×%d float32 (%d elements)", op.name, op.s.Len, op.r, op.c, elems)
		}
	}
	if m == 0 || n == 0 || k == 0 {
		g.Trap("dimensions %d×%d×%d must be positive", m, n, k)
	}
	// m·k and k·n fit the guest's memory, so m·n·k < 2^32·2^30: no wrap.
	if w := uint64(m) * uint64(n) * uint64(k); w > g.limits.MaxCallWork {
		panic(g.limitTrap("MaxCallWork", "matmul of %d×%d×%d asks for %d multiply-adds, more than the guest's limit of %d", m, n, k, w, g.limits.MaxCallWork))
	}
	rep, err := g.mem.MatMul(a, b, c, int(m), int(n), int(k))
	if err != nil {
		g.Trap("device: %v", err)
	}
	g.Last = rep
}
