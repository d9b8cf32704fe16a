package llmhost

import (
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// BenchmarkDecode prices one decode step of the Tiny model natively and in
// the guest, op by op and as a program: the difference between wasm and
// native is the Wasm boundary's cost per token, and a program crosses it
// once a token instead of once a kernel.
func BenchmarkDecode(b *testing.B) {
	f := newFixture(&testing.T{})
	for _, name := range []string{"native", "wasm", "native-program", "wasm-program"} {
		b.Run(name, func(b *testing.B) {
			s := f.sessions(&testing.T{})[name]
			next, err := s.Prefill(f.ctx, []int32{1, 2, 3})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if p, _ := s.Pos(f.ctx); p >= f.opts.MaxSeq-1 {
					b.StopTimer()
					s.Reset(f.ctx)
					next, _ = s.Prefill(f.ctx, []int32{1, 2, 3})
					b.StartTimer()
				}
				if next, err = s.Decode(f.ctx, next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDispatch prices one kernel dispatch (a 4-element Add): from the
// guest through the host ABI, and natively.
func BenchmarkDispatch(b *testing.B) {
	f := newFixture(&testing.T{})
	ss := f.sessions(&testing.T{})
	b.Run("wasm", func(b *testing.B) {
		g := ss["wasm"].(*guestSession).g
		p, err := g.Call(f.ctx, "alloc", 64)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		if _, err := g.Call(f.ctx, "bench_llm_add", uint64(b.N), p[0], p[0]+32, 4); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("native", func(b *testing.B) {
		ops := ss["native"].Memory().(device.LLMOps)
		for i := 0; i < b.N; i++ {
			if err := ops.Add(device.Span{Off: 64, Len: 16}, device.Span{Off: 96, Len: 16}, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
}
