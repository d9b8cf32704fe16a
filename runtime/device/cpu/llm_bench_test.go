package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/compose"
)

// BenchmarkLlama1BDecode runs the ops of one Llama 3.2 1B decode token (16
// layers, synthetic bf16 weights, 2.47 GB) on the cpu device, as the engine
// issues them, with the native fused ops and with their defining sequences
// (device.ComposeXxx), at two context lengths. Building the weights takes
// ~10 s per run; this box's memory bandwidth drifts between and within runs,
// so compare the variants over several runs (-count runs each sub-benchmark
// N times in a row, it does not interleave them).
func BenchmarkLlama1BDecode(b *testing.B) {
	const (
		dim, heads, kvHeads, headDim = 2048, 32, 8, 64
		inter, vocab, layers, maxSeq = 8192, 128256, 16, 256
		eps                          = 1e-5
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
		b.Fatal(err)
	}
	var c fusedCase
	x, xb := c.span(dim), c.span(dim)
	q, k, v, att := c.span(dim), c.span(kvHeads*headDim), c.span(kvHeads*headDim), c.span(dim)
	tmp, glu := c.span(inter), c.span(inter)
	invFreq, logits, tok := c.span(headDim/2), c.span(vocab), c.span(1)
	caches := make([][2]device.Span, layers)
	for i := range caches {
		caches[i] = [2]device.Span{c.span(maxSeq * kvHeads * headDim / 2), c.span(maxSeq * kvHeads * headDim / 2)}
	}
	mem, err := d.NewMemory(device.ZeroCopy, c.at)
	if err != nil {
		b.Fatal(err)
	}
	mem.Grow(c.at)
	f := unsafe.Slice((*float32)(unsafe.Pointer(&mem.Bytes()[0])), c.at/4)
	for i := range f {
		f[i] = float32(math.Sin(float64(i))) / 64
	}
	ops := mem.(device.LLMOps)
	size := c.at
	step := func(fused bool, pos int) error {
		var e []error
		for _, l := range ls {
			kc, vc := caches[l.an/9][0], caches[l.an/9][1]
			if fused {
				e = append(e, ops.NormLinear(w, l.an, []int{l.q, l.k, l.v}, x, xb, []device.Span{q, k, v}, 1, eps),
					ops.RoPEKV(q, k, v, invFreq, kc, vc, device.KVBF16, 1, pos, heads, kvHeads, headDim),
					ops.Attention(q, kc, vc, att, device.KVBF16, 1, pos, heads, kvHeads, headDim),
					ops.LinearAdd(w, l.o, att, xb, x, 1),
					ops.NormGLU(w, l.mn, l.g, l.u, x, xb, tmp, glu, 1, eps),
					ops.LinearAdd(w, l.dn, glu, xb, x, 1))
			} else {
				e = append(e, compose.NormLinear(ops, size, w, l.an, []int{l.q, l.k, l.v}, x, xb, []device.Span{q, k, v}, 1, eps),
					compose.RoPEKV(ops, size, q, k, v, invFreq, kc, vc, device.KVBF16, 1, pos, heads, kvHeads, headDim),
					ops.Attention(q, kc, vc, att, device.KVBF16, 1, pos, heads, kvHeads, headDim),
					compose.LinearAdd(ops, size, w, l.o, att, xb, x, 1),
					compose.NormGLU(ops, size, w, l.mn, l.g, l.u, x, xb, tmp, glu, 1, eps),
					compose.LinearAdd(ops, size, w, l.dn, glu, xb, x, 1))
			}
		}
		if fused {
			e = append(e, ops.NormLinear(w, fn, []int{head}, x, xb, []device.Span{logits}, 1, eps))
		} else {
			e = append(e, compose.NormLinear(ops, size, w, fn, []int{head}, x, xb, []device.Span{logits}, 1, eps))
		}
		e = append(e, ops.Argmax(logits, tok, 1, vocab))
		for _, err := range e {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, pos := range []int{24, 128} {
		for _, fused := range []bool{false, true} {
			b.Run(fmt.Sprintf("pos=%d/fused=%v", pos, fused), func(b *testing.B) {
				for b.Loop() {
					if err := step(fused, pos); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/token")
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
// Llama 3.2 1B (32 heads, 8 kv heads of 64, bf16 cache) at two positions.
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
