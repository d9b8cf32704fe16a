package tenants

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// llama1B is synthetic Llama 3.2 1B bf16 (2.47 GB of weights, made once
// per test binary) on the cpu device with a runtime for its guests.
var llama1B struct {
	once sync.Once
	f    *fixture
	err  error
}

const (
	bench1BPrompt = 24
	bench1BMaxSeq = 256
)

func getLlama1B(b *testing.B) *fixture {
	llama1B.once.Do(func() {
		ctx := context.Background()
		d, _ := cpu.Open()
		cfg := models.Llama32_1B()
		mw, err := models.Synthetic(cfg, 1, models.BF16)
		if err != nil {
			llama1B.err = err
			return
		}
		w, err := d.LoadWeights(llm.WeightTensors(mw))
		if err != nil {
			llama1B.err = err
			return
		}
		opts := Options{KV: device.KVBF16, MaxSeq: bench1BMaxSeq, MaxBatch: 32}
		lo := llmhost.Options{KV: opts.KV, MaxSeq: opts.MaxSeq, MaxBatch: opts.MaxBatch}
		rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, lo)})
		if err != nil {
			llama1B.err = err
			return
		}
		llama1B.f = &fixture{ctx: ctx, d: d, cfg: cfg, w: w, rt: rt, opts: opts}
	})
	if llama1B.err != nil {
		b.Fatal(llama1B.err)
	}
	return llama1B.f
}

// BenchmarkLlama1B decodes synthetic Llama 3.2 1B bf16 on the cpu device
// in N tenants at once, each from its own goroutine, every step of every
// tenant batched (MaxWait long; all tenants admitted before they decode),
// from a 24-token prompt. tokens/s is the aggregate over the N tenants;
// ms/step the time of one step of all of them. A benchmark iteration is one
// step of every tenant; the tenants are admitted again (untimed) when
// their context would run out.
func BenchmarkLlama1B(b *testing.B) {
	f := getLlama1B(b)
	for _, n := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			o := f.opts
			o.MaxWait = time.Second
			p, err := NewPool(f.ctx, f.rt, f.d, device.ZeroCopy, f.cfg, f.w, o)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(f.ctx)
			ts := make([]*Tenant, n)
			next := make([]int32, n)
			admit := func() {
				for i := range ts {
					if ts[i] != nil {
						ts[i].Close(f.ctx)
					}
					prompt := make([]int32, bench1BPrompt)
					for j := range prompt {
						prompt[j] = int32(1 + (i*131+j*17)%1000)
					}
					if ts[i], next[i], err = p.Admit(f.ctx, prompt); err != nil {
						b.Fatal(err)
					}
				}
			}
			admit()
			steps := 0
			errs := make([]error, n)
			for b.Loop() {
				if bench1BPrompt+steps+1 >= bench1BMaxSeq {
					b.StopTimer()
					admit()
					steps = 0
					b.StartTimer()
				}
				var wg sync.WaitGroup
				for i := range ts {
					wg.Go(func() { next[i], errs[i] = ts[i].Decode(f.ctx, next[i]) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				steps++
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
			st := p.Stats()
			if st.Sizes[n] != st.Batches {
				b.Logf("not every batch held all %d tenants: %+v", n, st)
			}
		})
	}
}
