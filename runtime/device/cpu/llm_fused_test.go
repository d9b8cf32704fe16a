package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The fused ops are held to their definitions, bit for bit, by the
// conformance suite (conformance_test.go); here is the attention kernel
// against float64, shape by shape.

// refAttention is llmref's float64 attention for every query token, from
// the cache's stored (rounded) keys and values.
func refAttention(q []float32, kc, vc []byte, dt device.KVDType, n, pos, heads, kvHeads, headDim int) []float64 {
	width := kvHeads * headDim
	rows := func(cache []byte) [][]float64 {
		f := make([]float32, len(cache)/dt.Size())
		widen(dt.WeightDType(), cache, f)
		return llmref.Rows(f, width)
	}
	keys, values := rows(kc), rows(vc)
	var out []float64
	for t := range n {
		qt := make([]float64, heads*headDim)
		for i := range qt {
			qt[i] = float64(q[t*heads*headDim+i])
		}
		out = append(out, llmref.Attention(qt, keys[:pos+t+1], values[:pos+t+1], heads, kvHeads, headDim)...)
	}
	return out
}

// TestAttentionMatchesFloat64 checks the attention kernel against float64
// attention head by head, for every KV dtype, group size and head width
// (64 and 128 take the SIMD kernels whole, 16 the AVX-512 ones, 8 and 6 the
// AVX2 ones or the Go tails), at decode and prefill: one block of query
// tokens, several (attnRows each, the last partial), more tokens than a
// tile of keys, and positions before, across and past a tile, so that
// blocks start and end on the causal diagonal inside a tile and rows see
// none, part or all of it.
func TestAttentionMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	small := [][2]int{{1, 0}, {1, 130}, {5, 3}, {attnRows + 1, 0}, {2*attnRows + 5, attnTile - 30}, {3, attnTile + 5}, {1, 2*attnTile + 1}}
	large := [][2]int{{attnTile + 3, 0}, {attnRows - 1, attnTile - attnRows/2}, {attnRows, 2*attnTile - 3}}
	for _, dt := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
		for si, sh := range [][3]int{{32, 8, 64}, {6, 3, 16}, {4, 4, 8}, {12, 2, 64}, {4, 2, 128}, {3, 1, 6}} {
			cases := small
			if si == 1 || si == 3 {
				cases = append(cases, large...)
			}
			for _, np := range cases {
				heads, kvHeads, headDim := sh[0], sh[1], sh[2]
				n, pos := np[0], np[1]
				ctx := pos + n
				q := randFloats(r, n*heads*headDim)
				cache := func() []byte {
					b := make([]byte, ctx*kvHeads*headDim*dt.Size())
					kvstore(randFloats(r, ctx*kvHeads*headDim), b, dt, ctx*kvHeads*headDim)
					return b
				}
				kc, vc := cache(), cache()
				got := make([]float32, n*heads*headDim)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				attention(nil, q, kc, vc, got, dt, n, pos, heads, kvHeads, headDim)
				want := refAttention(q, kc, vc, dt, n, pos, heads, kvHeads, headDim)
				for i := range got {
					// Outputs are convex combinations of values of order 1;
					// float32 scores and sums err by ~1e-6.
					if d := math.Abs(float64(got[i]) - want[i]); !(d <= 1e-5*(1+math.Abs(want[i]))) {
						t.Fatalf("%v %v n=%d pos=%d: out[%d] (token %d, head %d) = %v, float64 %v",
							dt, sh, n, pos, i, i/(heads*headDim), i/headDim%heads, got[i], want[i])
					}
				}
			}
		}
	}
}
