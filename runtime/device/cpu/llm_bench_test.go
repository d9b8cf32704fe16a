package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/cputime"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/compose"
)

// llama1B is the Llama 3.2 1B forward pass on the cpu device with synthetic
// bf16 weights (2.47 GB), built once per test binary for the benchmarks
// below: the ops of n tokens at position pos, as the engine issues them,
// with the native fused ops or their defining sequences (internal/compose).
type llama1B struct {
	step func(fused bool, n, pos int) error
}

var (
	llama1BOnce  sync.Once
	llama1BModel *llama1B
	llama1BErr   error
)

// llama1BMaxTokens is the most tokens one step takes (a prefill chunk).
const llama1BMaxTokens = 128

func getLlama1B(b *testing.B) *llama1B {
	llama1BOnce.Do(func() { llama1BModel, llama1BErr = newLlama1B() })
	if llama1BErr != nil {
		b.Fatal(llama1BErr)
	}
	return llama1BModel
}

func newLlama1B() (*llama1B, error) {
	const (
		dim, heads, kvHeads, headDim = 2048, 32, 8, 64
		inter, vocab, layers, maxSeq = 8192, 128256, 16, 640
		eps                          = 1e-5
		nt                           = llama1BMaxTokens
	)
	d, _ := Open()
	var ts []device.WeightTensor
	seed := uint32(1)
	tensor := func(shape ...int) int {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]byte, 2*n)
		u := unsafe.Slice((*uint16)(unsafe.Pointer(&data[0])), n)
		for i := range u {
			seed = seed*1664525 + 1013904223
			// small bf16 values around ±1/64: exponents 120..121
			u[i] = uint16(seed>>16)&0x807f | 0x3c00
		}
		ts = append(ts, device.WeightTensor{Name: fmt.Sprint(len(ts)), DType: "BF16", Shape: shape, Data: data})
		return len(ts) - 1
	}
	type layer struct{ an, q, k, v, o, mn, g, u, dn int }
	ls := make([]layer, layers)
	for i := range ls {
		ls[i] = layer{tensor(dim), tensor(dim, dim), tensor(kvHeads*headDim, dim), tensor(kvHeads*headDim, dim),
			tensor(dim, dim), tensor(dim), tensor(inter, dim), tensor(inter, dim), tensor(dim, inter)}
	}
	fn, head := tensor(dim), tensor(vocab, dim)
	w, err := d.LoadWeights(ts)
	if err != nil {
		return nil, err
	}
	var c fusedCase
	x, xb := c.span(nt*dim), c.span(nt*dim)
	q, k, v, att := c.span(nt*dim), c.span(nt*kvHeads*headDim), c.span(nt*kvHeads*headDim), c.span(nt*dim)
	tmp, glu := c.span(nt*inter), c.span(nt*inter)
	invFreq, logits, tok := c.span(headDim/2), c.span(vocab), c.span(1)
	caches := make([][2]device.Span, layers)
	for i := range caches {
		caches[i] = [2]device.Span{c.span(maxSeq * kvHeads * headDim / 2), c.span(maxSeq * kvHeads * headDim / 2)}
	}
	mem, err := d.NewMemory(device.ZeroCopy, c.at)
	if err != nil {
		return nil, err
	}
	mem.Grow(c.at)
	f := unsafe.Slice((*float32)(unsafe.Pointer(&mem.Bytes()[0])), c.at/4)
	for i := range f {
		f[i] = float32(math.Sin(float64(i))) / 64
	}
	ops := mem.(device.LLMOps)
	size := c.at
	// rows returns the first n rows of width floats of s.
	rows := func(s device.Span, n, width int) device.Span {
		return device.Span{Off: s.Off, Len: uint64(4 * n * width)}
	}
	step := func(fused bool, n, pos int) error {
		x, xb, q, att := rows(x, n, dim), rows(xb, n, dim), rows(q, n, dim), rows(att, n, dim)
		k, v := rows(k, n, kvHeads*headDim), rows(v, n, kvHeads*headDim)
		tmp, glu := rows(tmp, n, inter), rows(glu, n, inter)
		var e []error
		for _, l := range ls {
			kc, vc := caches[l.an/9][0], caches[l.an/9][1]
			if fused {
				e = append(e, ops.NormLinear(w, l.an, []int{l.q, l.k, l.v}, x, xb, []device.Span{q, k, v}, n, eps),
					ops.RoPEKV(q, k, v, invFreq, kc, vc, device.KVBF16, n, pos, heads, kvHeads, headDim),
					ops.Attention(q, kc, vc, att, device.KVBF16, n, pos, heads, kvHeads, headDim),
					ops.LinearAdd(w, l.o, att, xb, x, n),
					ops.NormGLU(w, l.mn, l.g, l.u, x, xb, tmp, glu, n, eps),
					ops.LinearAdd(w, l.dn, glu, xb, x, n))
			} else {
				e = append(e, compose.NormLinear(ops, size, w, l.an, []int{l.q, l.k, l.v}, x, xb, []device.Span{q, k, v}, n, eps),
					compose.RoPEKV(ops, size, q, k, v, invFreq, kc, vc, device.KVBF16, n, pos, heads, kvHeads, headDim),
					ops.Attention(q, kc, vc, att, device.KVBF16, n, pos, heads, kvHeads, headDim),
					compose.LinearAdd(ops, size, w, l.o, att, xb, x, n),
					compose.NormGLU(ops, size, w, l.mn, l.g, l.u, x, xb, tmp, glu, n, eps),
					compose.LinearAdd(ops, size, w, l.dn, glu, xb, x, n))
			}
		}
		// The logits of the last token only, as a prefill or a decode step wants.
		last := device.Span{Off: x.Off + uint64(4*(n-1)*dim), Len: 4 * dim}
		lastB := device.Span{Off: xb.Off + uint64(4*(n-1)*dim), Len: 4 * dim}
		if fused {
			e = append(e, ops.NormLinear(w, fn, []int{head}, last, lastB, []device.Span{logits}, 1, eps))
		} else {
			e = append(e, compose.NormLinear(ops, size, w, fn, []int{head}, last, lastB, []device.Span{logits}, 1, eps))
		}
		e = append(e, ops.Argmax(logits, tok, 1, vocab))
		for _, err := range e {
			if err != nil {
				return err
			}
		}
		return nil
	}
	return &llama1B{step: step}, nil
}

// BenchmarkLlama1BDecode runs the ops of one Llama 3.2 1B decode token (16
// layers, synthetic bf16 weights, 2.47 GB) on the cpu device, as the engine
// issues them, with the native fused ops and with their defining sequences
// (internal/compose), at two context lengths. Building the weights takes
// ~10 s per run; this box's memory bandwidth drifts between and within runs,
// so compare the variants over several runs (-count runs each sub-benchmark
// N times in a row, it does not interleave them). ms/token-cpu is the
// process's CPU time over GOMAXPROCS per token (BenchmarkLlama1BPrefill).
func BenchmarkLlama1BDecode(b *testing.B) {
	m := getLlama1B(b)
	for _, pos := range []int{24, 128} {
		for _, fused := range []bool{false, true} {
			b.Run(fmt.Sprintf("pos=%d/fused=%v", pos, fused), func(b *testing.B) {
				cpu0 := cputime.Process().Seconds()
				for b.Loop() {
					if err := m.step(fused, 1, pos); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/token")
				b.ReportMetric((cputime.Process().Seconds()-cpu0)*1e3/float64(runtime.GOMAXPROCS(0))/float64(b.N), "ms/token-cpu")
			})
		}
	}
}

// BenchmarkLlama1BPrefill runs a whole prompt through Llama 3.2 1B on the
// cpu device with the fused ops, in chunks of the given size as the engine
// does (llama.yaml: max_batch), the logits of each chunk's last token
// included: the cpu prefill the harness measures, without the guest.
// tokens/s is the figure to hold against llama.cpp's (FACTS.md).
// tokens/s-cpu divides by the process's CPU time over GOMAXPROCS instead
// (the pool's helpers spin while they wait, so on an idle machine the two
// agree): on a machine shared with other work, an estimate of what the cores
// deliver while the prefill has them.
func BenchmarkLlama1BPrefill(b *testing.B) {
	m := getLlama1B(b)
	for _, prompt := range []int{24, 128, 512} {
		for _, chunk := range []int{64, 128} {
			b.Run(fmt.Sprintf("prompt=%d/chunk=%d", prompt, chunk), func(b *testing.B) {
				cpu0 := cputime.Process().Seconds()
				for b.Loop() {
					for pos := 0; pos < prompt; pos += chunk {
						if err := m.step(true, min(chunk, prompt-pos), pos); err != nil {
							b.Fatal(err)
						}
					}
				}
				tokens := float64(prompt) * float64(b.N)
				b.ReportMetric(tokens/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(tokens/(cputime.Process().Seconds()-cpu0)*float64(runtime.GOMAXPROCS(0)), "tokens/s-cpu")
			})
		}
	}
}

// fusedCase lays spans out one after another in a Memory.
type fusedCase struct {
	at uint64
}

func (c *fusedCase) span(floats int) device.Span {
	s := device.Span{Off: c.at, Len: uint64(4 * floats)}
	c.at += (s.Len + 63) &^ 63
	return s
}

// BenchmarkAttention runs one decode token's attention for the 16 layers of
// Llama 3.2 1B (32 heads, 8 kv heads of 64, bf16 cache) at three positions.
func BenchmarkAttention(b *testing.B) {
	const heads, kvHeads, headDim, layers = 32, 8, 64, 16
	r := rand.New(rand.NewPCG(1, 2))
	for _, pos := range []int{24, 128, 512} {
		b.Run(fmt.Sprintf("pos=%d", pos), func(b *testing.B) {
			ctx := pos + 1
			q := randFloats(r, heads*headDim)
			kc := make([]byte, 2*ctx*kvHeads*headDim)
			vc := make([]byte, 2*ctx*kvHeads*headDim)
			kvstore(randFloats(r, ctx*kvHeads*headDim), kc, device.KVBF16, ctx*kvHeads*headDim)
			kvstore(randFloats(r, ctx*kvHeads*headDim), vc, device.KVBF16, ctx*kvHeads*headDim)
			out := make([]float32, heads*headDim)
			for b.Loop() {
				for range layers {
					attention(nil, q, kc, vc, out, device.KVBF16, 1, pos, heads, kvHeads, headDim)
				}
			}
		})
	}
}

// BenchmarkAttentionPrefill runs the attention of a whole prompt's prefill
// for the 16 layers of Llama 3.2 1B (32 heads, 8 kv heads of 64, bf16
// cache) in chunks of 64 tokens, as llama.yaml's engine issues it, on every
// core. GFLOP/s counts the causal scores and weighted sums, 4 flops per
// (query, key, element) pair.
func BenchmarkAttentionPrefill(b *testing.B) {
	const heads, kvHeads, headDim, layers, chunk = 32, 8, 64, 16, 64
	r := rand.New(rand.NewPCG(3, 4))
	for _, prompt := range []int{128, 512} {
		b.Run(fmt.Sprintf("prompt=%d", prompt), func(b *testing.B) {
			q := randFloats(r, chunk*heads*headDim)
			kc := make([]byte, 2*prompt*kvHeads*headDim)
			vc := make([]byte, 2*prompt*kvHeads*headDim)
			kvstore(randFloats(r, prompt*kvHeads*headDim), kc, device.KVBF16, prompt*kvHeads*headDim)
			kvstore(randFloats(r, prompt*kvHeads*headDim), vc, device.KVBF16, prompt*kvHeads*headDim)
			out := make([]float32, chunk*heads*headDim)
			cpu0 := cputime.Process().Seconds()
			for b.Loop() {
				for pos := 0; pos < prompt; pos += chunk {
					for range layers {
						attention(nil, q, kc, vc, out, device.KVBF16, chunk, pos, heads, kvHeads, headDim)
					}
				}
			}
			pairs := float64(prompt) * float64(prompt+1) / 2 // (query, key) pairs of the causal prompt
			flops := 4 * pairs * heads * headDim * layers * float64(b.N)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/prompt")
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(flops/(cputime.Process().Seconds()-cpu0)/1e9*float64(runtime.GOMAXPROCS(0)), "GFLOP/s-cpu")
		})
	}
}
