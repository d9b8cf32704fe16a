package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The native fused ops against their defining sequences (device.ComposeXxx
// on the same Memory, i.e. the basic ops one by one): for random inputs,
// every output span must be bit-identical in every memory mode, for one
// token (the single-region GEMV paths) and several (GEMM), every weight
// dtype, and row counts that split into uneven chunks. Scratch spans are
// not compared: the contract leaves them undefined.

// fusedCase lays spans out one after another in a Memory.
type fusedCase struct {
	at uint64
}

func (c *fusedCase) span(floats int) device.Span {
	s := device.Span{Off: c.at, Len: uint64(4 * floats)}
	c.at += (s.Len + 63) &^ 63
	return s
}

// runBoth fills a fresh Memory of mode with the same random bytes twice,
// runs native then compose on it, and fails unless the spans in outs hold
// identical bytes afterwards.
func runBoth(t *testing.T, d *Device, mode device.Mode, size uint64, seed uint64, outs []device.Span, native, compose func(device.LLMOps) error) {
	t.Helper()
	var got [][]byte
	for pass, f := range []func(device.LLMOps) error{native, compose} {
		mem, err := d.NewMemory(mode, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Grow(size); err != nil {
			t.Fatal(err)
		}
		b := mem.Bytes()[:size]
		fl := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), size/4)
		r := rand.New(rand.NewPCG(seed, 7))
		for i := range fl {
			fl[i] = float32(r.NormFloat64())
		}
		if err := f(mem.(device.LLMOps)); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		var snap []byte
		for _, s := range outs {
			snap = append(snap, b[s.Off:s.End()]...)
		}
		got = append(got, snap)
		mem.Close()
	}
	if !slices.Equal(got[0], got[1]) {
		for i := 0; i+4 <= len(got[0]); i += 4 {
			if !slices.Equal(got[0][i:i+4], got[1][i:i+4]) {
				a := *(*float32)(unsafe.Pointer(&got[0][i]))
				c := *(*float32)(unsafe.Pointer(&got[1][i]))
				t.Fatalf("output bytes differ first at float %d: native %v, composed %v", i/4, a, c)
			}
		}
	}
}

func fusedWeights(t *testing.T, d *Device, r *rand.Rand, dts []string, shapes [][2]int) device.Weights {
	t.Helper()
	var ts []device.WeightTensor
	for i, sh := range shapes {
		vals := randFloats(r, sh[0]*sh[1])
		var wt device.WeightTensor
		if sh[1] == 0 { // a norm vector
			vals = randFloats(r, sh[0])
			data, err := safetensors.FromFloat32(safetensors.DType(dts[i]), vals)
			if err != nil {
				t.Fatal(err)
			}
			wt = device.WeightTensor{Name: "norm", DType: dts[i], Shape: []int{sh[0]}, Data: data}
		} else {
			wt = weightOf(t, dts[i], sh[0], sh[1], vals)
		}
		ts = append(ts, wt)
	}
	w, err := d.LoadWeights(ts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var fusedDTypes = []string{"BF16", "F16", "F32"}

func TestNormLinearMatchesCompose(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(3, 4))
	const eps = 1e-5
	for _, dt := range fusedDTypes {
		// dim, then up to 3 projection row counts
		for _, sh := range [][]int{{33, 7}, {2048, 1031, 257, 263}, {100, 515, 9}, {64, 2048, 512, 512}} {
			for _, n := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%v/n=%d", dt, sh, n), func(t *testing.T) {
					dim, rows := sh[0], sh[1:]
					dts := []string{"F32"}
					shapes := [][2]int{{dim, 0}}
					for i, rr := range rows {
						// mix dtypes across projections for the first shape
						pd := dt
						if i == 1 && dim == 2048 {
							pd = fusedDTypes[(slices.Index(fusedDTypes, dt)+1)%3]
						}
						dts = append(dts, pd)
						shapes = append(shapes, [2]int{rr, dim})
					}
					dts[0] = dt
					w := fusedWeights(t, d, r, dts, shapes)
					var c fusedCase
					x, xb := c.span(n*dim), c.span(n*dim)
					var ids []int
					var outs []device.Span
					for i, rr := range rows {
						ids = append(ids, i+1)
						outs = append(outs, c.span(n*rr))
					}
					for _, mode := range d.Modes() {
						runBoth(t, d, mode, c.at, r.Uint64(), append([]device.Span{x}, outs...),
							func(o device.LLMOps) error { return o.NormLinear(w, 0, ids, x, xb, outs, n, eps) },
							func(o device.LLMOps) error {
								return device.ComposeNormLinear(o, c.at, w, 0, ids, x, xb, outs, n, eps)
							})
					}
				})
			}
		}
	}
}

func TestNormGLUMatchesCompose(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(5, 6))
	const eps = 1e-5
	for _, dt := range fusedDTypes {
		for _, sh := range [][2]int{{33, 7}, {2048, 1031}, {100, 515}} {
			for _, n := range []int{1, 4} {
				t.Run(fmt.Sprintf("%s/%v/n=%d", dt, sh, n), func(t *testing.T) {
					dim, inter := sh[0], sh[1]
					w := fusedWeights(t, d, r, []string{dt, dt, dt}, [][2]int{{dim, 0}, {inter, dim}, {inter, dim}})
					var c fusedCase
					x, xb, tmp, out := c.span(n*dim), c.span(n*dim), c.span(n*inter), c.span(n*inter)
					for _, mode := range d.Modes() {
						runBoth(t, d, mode, c.at, r.Uint64(), []device.Span{x, out},
							func(o device.LLMOps) error { return o.NormGLU(w, 0, 1, 2, x, xb, tmp, out, n, eps) },
							func(o device.LLMOps) error {
								return device.ComposeNormGLU(o, c.at, w, 0, 1, 2, x, xb, tmp, out, n, eps)
							})
					}
				})
			}
		}
	}
}

func TestLinearAddMatchesCompose(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(7, 8))
	for _, dt := range fusedDTypes {
		for _, sh := range [][2]int{{7, 33}, {1031, 2048}, {2048, 8192}, {515, 100}} {
			for _, n := range []int{1, 5} {
				t.Run(fmt.Sprintf("%s/%v/n=%d", dt, sh, n), func(t *testing.T) {
					rows, in := sh[0], sh[1]
					w := fusedWeights(t, d, r, []string{dt}, [][2]int{{rows, in}})
					var c fusedCase
					x, tmp, resid := c.span(n*in), c.span(n*rows), c.span(n*rows)
					for _, mode := range d.Modes() {
						runBoth(t, d, mode, c.at, r.Uint64(), []device.Span{x, resid},
							func(o device.LLMOps) error { return o.LinearAdd(w, 0, x, tmp, resid, n) },
							func(o device.LLMOps) error { return device.ComposeLinearAdd(o, c.at, w, 0, x, tmp, resid, n) })
					}
				})
			}
		}
	}
}

func TestRoPEKVMatchesCompose(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(9, 10))
	for _, kdt := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("%v/n=%d", kdt, n), func(t *testing.T) {
				const heads, kvHeads, headDim, pos, ctx = 6, 2, 16, 5, 12
				var c fusedCase
				q, k, v := c.span(n*heads*headDim), c.span(n*kvHeads*headDim), c.span(n*kvHeads*headDim)
				invFreq := c.span(headDim / 2)
				cacheBytes := uint64(ctx * kvHeads * headDim * kdt.Size())
				kc := device.Span{Off: c.at, Len: cacheBytes}
				c.at += (cacheBytes + 63) &^ 63
				vc := device.Span{Off: c.at, Len: cacheBytes}
				c.at += (cacheBytes + 63) &^ 63
				for _, mode := range d.Modes() {
					runBoth(t, d, mode, c.at, r.Uint64(), []device.Span{q, k, v, invFreq, kc, vc},
						func(o device.LLMOps) error {
							return o.RoPEKV(q, k, v, invFreq, kc, vc, kdt, n, pos, heads, kvHeads, headDim)
						},
						func(o device.LLMOps) error {
							return device.ComposeRoPEKV(o, c.at, q, k, v, invFreq, kc, vc, kdt, n, pos, heads, kvHeads, headDim)
						})
				}
			})
		}
	}
}

// TestFusedRejects checks that the native fused ops reject what their
// checks reject (here: overlapping spans), before touching memory.
func TestFusedRejects(t *testing.T) {
	d, _ := Open()
	r := rand.New(rand.NewPCG(11, 12))
	w := fusedWeights(t, d, r, []string{"BF16", "BF16", "BF16"}, [][2]int{{32, 0}, {16, 32}, {16, 32}})
	mem, _ := d.NewMemory(device.ZeroCopy, 1<<16)
	mem.Grow(1 << 16)
	o := mem.(device.LLMOps)
	x := device.Span{Off: 0, Len: 128}
	if err := o.NormLinear(w, 0, []int{1}, x, x, []device.Span{{Off: 256, Len: 64}}, 1, 1e-5); err == nil {
		t.Error("NormLinear: x = xb accepted")
	}
	if err := o.NormGLU(w, 0, 1, 2, x, device.Span{Off: 256, Len: 128}, device.Span{Off: 512, Len: 64}, device.Span{Off: 512, Len: 64}, 1, 1e-5); err == nil {
		t.Error("NormGLU: tmp = out accepted")
	}
	if err := o.LinearAdd(w, 1, x, device.Span{Off: 256, Len: 64}, device.Span{Off: 256, Len: 64}, 1); err == nil {
		t.Error("LinearAdd: tmp = resid accepted")
	}
}

// refAttention is llmref's float64 attention for every query token, from
// the cache's stored (rounded) keys and values.
func refAttention(q []float32, kc, vc []byte, dt device.KVDType, n, pos, heads, kvHeads, headDim int) []float64 {
	width := kvHeads * headDim
	rows := func(cache []byte) [][]float64 {
		f := make([]float32, len(cache)/dt.Size())
		widen(map[device.KVDType]string{device.KVBF16: "BF16", device.KVF16: "F16", device.KVF32: "F32"}[dt], cache, f)
		r := make([][]float64, len(f)/width)
		for j := range r {
			r[j] = make([]float64, width)
			for i := range width {
				r[j][i] = float64(f[j*width+i])
			}
		}
		return r
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
// (64 takes the assembly weighted sum), at decode and prefill.
func TestAttentionMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, dt := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
		for _, sh := range [][3]int{{32, 8, 64}, {6, 3, 16}, {4, 4, 8}, {12, 2, 64}, {4, 2, 128}} {
			for _, np := range [][2]int{{1, 0}, {1, 130}, {5, 3}} {
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
						t.Fatalf("%v %v n=%d pos=%d: out[%d] = %v, float64 %v", dt, sh, n, pos, i, got[i], want[i])
					}
				}
			}
		}
	}
}
