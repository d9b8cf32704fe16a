package tenants

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
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

// prompt1B is tenant i's prompt for the 1B model: bench1BPrompt ids.
func prompt1B(i int) []int32 {
	prompt := make([]int32, bench1BPrompt)
	for j := range prompt {
		prompt[j] = int32(1 + (i*131+j*17)%1000)
	}
	return prompt
}

func getLlama1B(b testing.TB) *fixture {
	llama1B.once.Do(func() {
		llama1B.f, llama1B.err = makeFixture(models.Llama32_1B(), 1, Options{KV: device.KVBF16, MaxSeq: bench1BMaxSeq, MaxBatch: 32})
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
// their context would run out. "wait=default" runs with the default
// MaxWait instead of a second, "off" with batching off (Options.MaxWait <
// 0: each step alone); BenchmarkLlama1BOne holds N = 1 to the single-guest
// path.
func BenchmarkLlama1B(b *testing.B) {
	f := getLlama1B(b)
	for _, c := range []struct {
		n    int
		wait time.Duration
		name string
	}{{1, time.Second, ""}, {2, time.Second, ""}, {4, time.Second, ""}, {8, time.Second, ""}, {8, 0, "/wait=default"}, {8, -1, "/off"}} {
		n := c.n
		b.Run(fmt.Sprintf("N=%d%s", n, c.name), func(b *testing.B) {
			o := f.opts
			o.MaxWait = c.wait
			p := f.pool(b, o)
			ts := make([]*Tenant, n)
			next := make([]int32, n)
			admit := func() {
				for i := range ts {
					if ts[i] != nil {
						ts[i].Close(f.ctx)
					}
					var err error
					if ts[i], next[i], err = p.Admit(f.ctx, prompt1B(i)); err != nil {
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
			if c.wait >= 0 && st.Sizes[n] != st.Batches {
				b.Logf("not every batch held all %d tenants: %+v", n, st)
			}
		})
	}
}

// BenchmarkLlama1BOne holds a pool of one tenant to the single-guest path:
// each iteration decodes one token in the pool's tenant and one in a guest
// session in program mode without a pool (llmhost.NewGuest, the path of
// the llama experiment), alternately, timing each; it reports both ms/token
// and pool/session, the ratio of their sums (interleaved, so a load that
// comes and goes on a shared machine falls on both).
func BenchmarkLlama1BOne(b *testing.B) {
	f := getLlama1B(b)
	o := f.opts
	o.MaxWait = time.Second
	p := f.pool(b, o)
	lo := llmhost.Options{KV: f.opts.KV, MaxSeq: f.opts.MaxSeq, MaxBatch: f.opts.MaxBatch, Program: true}
	s, err := llmhost.NewGuest(f.ctx, f.rt, f.d, device.ZeroCopy, f.cfg, f.w, lo)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(f.ctx)
	prompt := prompt1B(0)
	var tn *Tenant
	var nextP, nextS int32
	start := func() {
		if tn != nil {
			tn.Close(f.ctx)
		}
		if tn, nextP, err = p.Admit(f.ctx, prompt); err != nil {
			b.Fatal(err)
		}
		if err := s.Reset(f.ctx); err != nil {
			b.Fatal(err)
		}
		if nextS, err = s.Prefill(f.ctx, prompt); err != nil {
			b.Fatal(err)
		}
	}
	start()
	var inPool, inSession time.Duration
	steps := 0
	for b.Loop() {
		if bench1BPrompt+steps+1 >= bench1BMaxSeq {
			b.StopTimer()
			start()
			steps = 0
			b.StartTimer()
		}
		t0 := time.Now()
		if nextP, err = tn.Decode(f.ctx, nextP); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if nextS, err = s.Decode(f.ctx, nextS); err != nil {
			b.Fatal(err)
		}
		inPool, inSession = inPool+t1.Sub(t0), inSession+time.Since(t1)
		steps++
	}
	b.ReportMetric(float64(inPool.Microseconds())/1e3/float64(b.N), "pool-ms/token")
	b.ReportMetric(float64(inSession.Microseconds())/1e3/float64(b.N), "session-ms/token")
	b.ReportMetric(float64(inPool)/float64(inSession), "pool/session")
}
