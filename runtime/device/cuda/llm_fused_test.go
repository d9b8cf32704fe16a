package cuda

import (
	"math/rand/v2"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestLLMFusedOps checks the fused ops (gemv_fused, rope_kv, and the
// defining sequences where those do not apply) against the cpu backend,
// which runs the defining sequences of basic ops: every mode, weight dtypes
// bf16/f16/f32, n = 1 (decode, the fused kernels) and n > 1, vector and
// scalar row paths, and a tall projection that stages x in shared memory.
func TestLLMFusedOps(t *testing.T) {
	d := gpu(t)
	for _, mode := range llmModes {
		for _, wdt := range []string{"BF16", "F16", "F32"} {
			t.Run(string(mode)+"/"+wdt, func(t *testing.T) {
				r := rand.New(rand.NewPCG(5, uint64(len(wdt))))
				ts := []device.WeightTensor{
					randTensor(r, "norm", wdt, 0.1, 1, 64),            // 0
					randTensor(r, "q", wdt, 0.2, 0, 96, 64),           // 1
					randTensor(r, "k", wdt, 0.2, 0, 32, 64),           // 2
					randTensor(r, "v", wdt, 0.2, 0, 32, 64),           // 3
					randTensor(r, "gate", wdt, 0.2, 0, 192, 64),       // 4
					randTensor(r, "up", wdt, 0.2, 0, 192, 64),         // 5
					randTensor(r, "down", wdt, 0.1, 0, 64, 192),       // 6
					randTensor(r, "oddnorm", wdt, 0.1, 1, 37),         // 7
					randTensor(r, "odd", wdt, 0.2, 0, 13, 37),         // 8: scalar row path
					randTensor(r, "tall", wdt, 0.05, 0, 16400, 64),    // 9: x staged in shared memory
					randTensor(r, "oddadd", wdt, 0.2, 0, 37, 13),      // 10
					randTensor(r, "f32norm", "F32", 0.1, 1, 64),       // 11: a norm dtype unlike the weights'
					randTensor(r, "wide", wdt, 0.02, 0, 40, 4096),     // 12
					randTensor(r, "widenorm", wdt, 0.1, 1, 4096),      // 13
					randTensor(r, "wideup", wdt, 0.02, 0, 40, 4096),   // 14
					randTensor(r, "widedown", wdt, 0.02, 0, 64, 4096), // 15
					randTensor(r, "norm512", wdt, 0.1, 1, 512),        // 16
					randTensor(r, "r1", wdt, 0.05, 0, 40, 512),        // 17
					randTensor(r, "r2", wdt, 0.05, 0, 24, 512),        // 18
					randTensor(r, "r3", wdt, 0.05, 0, 24, 512),        // 19
					randTensor(r, "radd", wdt, 0.05, 0, 48, 256),      // 20
					randTensor(r, "norm256", wdt, 0.1, 1, 256),        // 21
					randTensor(r, "rtall", wdt, 0.05, 0, 9000, 256),   // 22: several rows a warp
					randTensor(r, "r2048", wdt, 0.02, 0, 300, 2048),   // 23
					randTensor(r, "norm2048", wdt, 0.1, 1, 2048),      // 24
					randTensor(r, "long", wdt, 0.02, 0, 13, 8192),     // 25: rows split over 4 warps, a partial block
				}
				p := newPair(t, d, mode, ts)
				ro, gpu := p.ops()
				tol := func(n int) float64 {
					if n > 1 && wdt == "BF16" {
						return 1e-4 // bf16 hi+lo activations on tensor cores
					}
					return 1e-5
				}
				for _, n := range []int{1, 5, 33} {
					name := func(op string) string { return op + " n=" + itoa(n) }
					// NormLinear: q, k, v; one odd-width projection; the tall
					// one; a norm whose dtype differs (the defining sequence).
					for _, c := range []struct {
						what  string
						norm  int
						ws    []int
						rows  []int
						width int
					}{
						{"qkv", 0, []int{1, 2, 3}, []int{96, 32, 32}, 64},
						{"odd", 7, []int{8}, []int{13}, 37},
						{"tall", 0, []int{9}, []int{16400}, 64},
						{"f32 norm", 11, []int{1, 2}, []int{96, 32}, 64},
						{"wide", 13, []int{12, 14}, []int{40, 40}, 4096},
						{"one weight twice", 0, []int{1, 1}, []int{96, 96}, 64},
						{"rows of 512", 16, []int{17, 18, 19}, []int{40, 24, 24}, 512},
						{"several rows a warp", 21, []int{22}, []int{9000}, 256},
						{"rows of 2048", 24, []int{23}, []int{300}, 2048},
					} {
						x, xb := p.span(4*n*c.width, true), p.span(4*n*c.width, false)
						p.fill(x)
						outs := make([]device.Span, len(c.ws))
						for i, rows := range c.rows {
							outs[i] = p.span(4*n*rows, i == 1)
							p.poison(outs[i])
						}
						e1 := ro.NormLinear(p.rw, c.norm, c.ws, x, xb, outs, n, 1e-5)
						e2 := gpu.NormLinear(p.gw, c.norm, c.ws, x, xb, outs, n, 1e-5)
						for i, o := range outs {
							check(t, name("norm_linear "+c.what+" out "+itoa(i)), firstErr(e1, e2), p.compare(o), tol(n))
						}
						check(t, name("norm_linear "+c.what+" leaves x"), nil, p.compare(x), 0)
					}
					// NormGLU.
					for _, c := range []struct {
						what                  string
						norm, gate, up, width int
						inter                 int
					}{{"", 0, 4, 5, 64, 192}, {"wide", 13, 12, 14, 4096, 40}, {"rows of 512", 16, 18, 19, 512, 24}} {
						x, xb := p.span(4*n*c.width, true), p.span(4*n*c.width, false)
						tmp, out := p.span(4*n*c.inter, false), p.span(4*n*c.inter, true)
						p.fill(x)
						p.poison(out)
						e1 := ro.NormGLU(p.rw, c.norm, c.gate, c.up, x, xb, tmp, out, n, 1e-5)
						e2 := gpu.NormGLU(p.gw, c.norm, c.gate, c.up, x, xb, tmp, out, n, 1e-5)
						check(t, name("norm_glu "+c.what), firstErr(e1, e2), p.compare(out), tol(n))
					}
					// LinearAdd: the residual must hold its old value plus the projection.
					for _, c := range []struct{ id, out, in int }{{6, 64, 192}, {10, 37, 13}, {15, 64, 4096}, {20, 48, 256}, {23, 300, 2048}, {25, 13, 8192}} {
						x, tmp, resid := p.span(4*n*c.in, false), p.span(4*n*c.out, true), p.span(4*n*c.out, false)
						p.fill(x)
						p.fill(resid)
						e1 := ro.LinearAdd(p.rw, c.id, x, tmp, resid, n)
						e2 := gpu.LinearAdd(p.gw, c.id, x, tmp, resid, n)
						check(t, name("linear_add "+itoa(c.out)+"x"+itoa(c.in)), firstErr(e1, e2), p.compare(resid), tol(n))
					}
				}
			})
		}
	}
}

// TestLLMRoPEKV checks rope_kv against the cpu's RoPE, RoPE, KVStore,
// KVStore in every mode and KV dtype, then attends over what it stored.
func TestLLMRoPEKV(t *testing.T) {
	d := gpu(t)
	shapes := []attnShape{{1, 0, 8, 2, 16}, {1, 9, 8, 2, 16}, {7, 5, 8, 2, 16}, {3, 4, 6, 3, 6}, {1, 300, 32, 8, 64}}
	for _, mode := range llmModes {
		for _, dt := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
			t.Run(string(mode)+"/"+string(dt), func(t *testing.T) {
				p := newPair(t, d, mode, nil)
				ro, gpu := p.ops()
				for _, s := range shapes {
					name := "n=" + itoa(s.n) + " pos=" + itoa(s.pos) + " heads=" + itoa(s.heads) + "/" + itoa(s.kvHeads) + " hd=" + itoa(s.headDim)
					q, k, v, inv, kc, vc := p.attentionInputs(s, dt)
					e1 := ro.RoPEKV(q, k, v, inv, kc, vc, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					e2 := gpu.RoPEKV(q, k, v, inv, kc, vc, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					check(t, "rope_kv q "+name, firstErr(e1, e2), p.compare(q), 1e-6)
					check(t, "rope_kv k "+name, nil, p.compare(k), 1e-6)
					caches := []device.Span{vc}
					if dt != device.KVF32 {
						caches = append(caches, kc) // as TestLLMAttention: f32 keeps RoPE's last bits
					}
					for _, c := range caches {
						if !p.sameBytes(c) {
							t.Errorf("rope_kv %s %s: caches differ", dt, name)
						}
					}
					out := p.span(4*s.n*s.heads*s.headDim, false)
					p.poison(out)
					e1 = ro.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					e2 = gpu.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					check(t, "attention after rope_kv "+name, firstErr(e1, e2), p.compare(out), 2e-6)
				}
			})
		}
	}
}
