package wasm

import (
	"context"
	"fmt"

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
func coreABI() []HostFunc {
	return append([]HostFunc{
		{Name: "matmul", Params: []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32}, Fn: hostMatMul},
		{Name: "nop", Params: []api.ValueType{i32}, Results: []api.ValueType{i32}, Fn: func(_ context.Context, _ *Guest, stack []uint64) {
			stack[0] = uint64(uint32(stack[0]) + 1)
		}},
	}, LLMFuncs()...) // llm_*: see llm_abi.go
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
				fn.Fn(ctx, g, stack)
			}), fn.Params, fn.Results).Export(fn.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("register host ABI: %w", err)
	}
	return nil
}

// hostMatMul is matmul(a, a_len, b, b_len, c, c_len, m, n, k).
func hostMatMul(_ context.Context, g *Guest, stack []uint64) {
	a := g.Span("A", stack[0], stack[1])
	b := g.Span("B", stack[2], stack[3])
	c := g.Span("C", stack[4], stack[5])
	m, n, k := api.DecodeU32(stack[6]), api.DecodeU32(stack[7]), api.DecodeU32(stack[8])
	g.NoOverlap([]device.Span{a, b}, []device.Span{c})
	if want := uint64(m) * uint64(k) * 4; a.Len != want {
		g.Trap("A is %d bytes, want %d for %d×%d float32", a.Len, want, m, k)
	}
	if want := uint64(k) * uint64(n) * 4; b.Len != want {
		g.Trap("B is %d bytes, want %d for %d×%d float32", b.Len, want, k, n)
	}
	if want := uint64(m) * uint64(n) * 4; c.Len != want {
		g.Trap("C is %d bytes, want %d for %d×%d float32", c.Len, want, m, n)
	}
	rep, err := g.mem.MatMul(a, b, c, int(m), int(n), int(k))
	if err != nil {
		g.Trap("device: %v", err)
	}
	g.Last = rep
}
