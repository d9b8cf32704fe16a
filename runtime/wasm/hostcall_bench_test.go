package wasm_test

import (
	"context"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// BenchmarkHostCall prices one guest→host call: nop, the cheapest host
// function, and llm_add on 4 floats, a Llama kernel dispatch with its
// decoding, bounds and overlap checks, validation and the cpu kernel (the
// zerocopy memory runs it in place). The guest loops (bench_nop,
// bench_llm_add), so the time per op is the call, not the Go→Wasm entry.
func BenchmarkHostCall(b *testing.B) {
	ctx := context.Background()
	g, _ := llmGuest(b, newRuntime(b), device.ZeroCopy, device.KVBF16)
	p := call(b, g, "alloc", 64)[0]
	b.Run("nop", func(b *testing.B) {
		if _, err := g.Call(ctx, "bench_nop", uint64(b.N)); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("llm_add", func(b *testing.B) {
		if _, err := g.Call(ctx, "bench_llm_add", uint64(b.N), p, p+32, 4); err != nil {
			b.Fatal(err)
		}
	})
}
