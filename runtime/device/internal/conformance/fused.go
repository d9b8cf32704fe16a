package conformance

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/compose"
)

// Fused holds every fused op to its definition on the same backend: two
// memories with the same bytes, the fused op on one and its definition's
// basic ops (compose) on the other, then every output compared (bit for
// bit with FusedExact). Scratch operands are not compared: the contract
// leaves them undefined.
func Fused(t *testing.T, b Backend) {
	inModes(t, b, append(byWeightDType(fusedWeightOps), check{"rope_kv", fusedRoPEKV}))
}

// twin is two arenas of one backend holding the same bytes: a runs the
// fused op, d its definition.
type twin struct {
	t     *testing.T
	b     Backend
	a, d  *arena
	size  uint64
	exact bool
}

func newTwin(t *testing.T, b Backend, mode device.Mode, size uint64) *twin {
	return &twin{t: t, b: b, a: newArena(t, b.Device, mode, size, 8), d: newArena(t, b.Device, mode, size, 8), size: size, exact: b.FusedExact}
}

// span reserves the same span of floats in both.
func (w *twin) span(floats int, odd bool) device.Span { return w.bytes(4*floats, odd) }

// bytes reserves the same span of n bytes in both.
func (w *twin) bytes(n int, odd bool) device.Span {
	s := w.a.span(n, odd)
	if w.d.span(n, odd) != s {
		w.t.Fatal("twin arenas out of step")
	}
	return s
}

// fill writes the same random floats to s in both.
func (w *twin) fill(s device.Span) {
	v := w.a.fill(s)
	w.d.writeF32(s, v)
}

// run runs fused on a and def on d.
func (w *twin) run(what string, fused func(device.LLMOps) error, def func(device.LLMOps) error) {
	w.t.Helper()
	w.a.check(what, fused(w.a.ops))
	w.d.check(what+" (definition)", def(w.d.ops))
}

// compare holds output s of the fused op to the definition's.
func (w *twin) compare(what string, s device.Span) {
	w.t.Helper()
	got, want := w.a.readF32(s), w.d.readF32(s)
	if w.exact {
		if string(bytesOf(got)) != string(bytesOf(want)) {
			w.t.Errorf("%s: differs from its definition (want bit for bit)", what)
		}
		return
	}
	if e := relNorm(got, want); !(e <= w.b.Tol.Fused) {
		w.t.Errorf("%s: relative error %.3g from its definition > %g", what, e, w.b.Tol.Fused)
	} else {
		w.t.Logf("%s: relative error %.3g from its definition", what, e)
	}
}

// fusedWeightOps checks NormLinear, NormGLU and LinearAdd at the shapes
// where kernels switch paths, n = 1 (the decode kernels) and n > 1.
func fusedWeightOps(t *testing.T, b Backend, mode device.Mode, dt string) {
	r := rand.New(rand.NewPCG(5, uint64(len(dt))))
	ws := load(t, b.Device, r, []tensorSpec{
		{"norm", dt, 0.1, 1, []int{64}},                        // 0
		{"q", dt, 0.2, 0, []int{96, 64}},                       // 1
		{"k", dt, 0.2, 0, []int{32, 64}},                       // 2
		{"v", dt, 0.2, 0, []int{32, 64}},                       // 3
		{"gate", dt, 0.2, 0, []int{192, 64}},                   // 4
		{"up", dt, 0.2, 0, []int{192, 64}},                     // 5
		{"down", dt, 0.1, 0, []int{64, 192}},                   // 6
		{"oddnorm", dt, 0.1, 1, []int{37}},                     // 7
		{"odd", dt, 0.2, 0, []int{13, 37}},                     // 8: element loads
		{"tall", dt, 0.05, 0, []int{16400, 64}},                // 9: tall enough to stage x in shared memory
		{"oddadd", dt, 0.2, 0, []int{37, 13}},                  // 10
		{"f32norm", "F32", 0.1, 1, []int{64}},                  // 11: a norm dtype unlike the weights'
		{"wide", dt, 0.02, 0, []int{40, 4096}},                 // 12
		{"widenorm", dt, 0.1, 1, []int{4096}},                  // 13
		{"wideup", dt, 0.02, 0, []int{40, 4096}},               // 14
		{"widedown", dt, 0.02, 0, []int{64, 4096}},             // 15
		{"norm512", dt, 0.1, 1, []int{512}},                    // 16
		{"r1", dt, 0.05, 0, []int{40, 512}},                    // 17
		{"r2", dt, 0.05, 0, []int{24, 512}},                    // 18
		{"r3", dt, 0.05, 0, []int{24, 512}},                    // 19
		{"radd", dt, 0.05, 0, []int{48, 256}},                  // 20
		{"norm256", dt, 0.1, 1, []int{256}},                    // 21
		{"rtall", dt, 0.05, 0, []int{9000, 256}},               // 22: several rows a warp
		{"r2048", dt, 0.02, 0, []int{300, 2048}},               // 23
		{"norm2048", dt, 0.1, 1, []int{2048}},                  // 24
		{"long", dt, 0.02, 0, []int{13, 8192}},                 // 25: rows split over warps, a partial block
		{"big gate", dt, 0.02, 0, []int{1031, 2048}},           // 26: uneven chunks of rows
		{"big up", dt, 0.02, 0, []int{1031, 2048}},             // 27
		{"other dtype", otherDType(dt), 0.2, 0, []int{32, 64}}, // 28: projections of mixed dtypes
	})
	w := newTwin(t, b, mode, 40<<20)
	for _, n := range []int{1, 5, 33} {
		for _, c := range []struct {
			what  string
			norm  int
			ws    []int
			width int
		}{
			{"qkv", 0, []int{1, 2, 3}, 64}, {"odd", 7, []int{8}, 37}, {"tall", 0, []int{9}, 64},
			{"f32 norm", 11, []int{1, 2}, 64}, {"wide", 13, []int{12, 14}, 4096}, {"one weight twice", 0, []int{1, 1}, 64},
			{"rows of 512", 16, []int{17, 18, 19}, 512}, {"several rows a warp", 21, []int{22}, 256}, {"rows of 2048", 24, []int{23}, 2048},
			{"mixed dtypes", 0, []int{1, 28, 3}, 64}, {"uneven chunks", 24, []int{26, 23}, 2048},
		} {
			if n == 33 && (c.what == "tall" || c.what == "several rows a warp") {
				continue // prefill of a tall matrix: no fused kernel, and slow on a cpu
			}
			what := fmt.Sprintf("norm_linear %s n=%d", c.what, n)
			x, xb := w.span(n*c.width, true), w.span(n*c.width, false)
			w.fill(x)
			outs := make([]device.Span, len(c.ws))
			for i, id := range c.ws {
				outs[i] = w.span(n*ws.ts[id].Shape[0], i == 1)
				w.fill(outs[i])
			}
			w.run(what,
				func(o device.LLMOps) error { return o.NormLinear(ws.w, c.norm, c.ws, x, xb, outs, n, 1e-5) },
				func(o device.LLMOps) error {
					return compose.NormLinear(o, w.size, ws.w, c.norm, c.ws, x, xb, outs, n, 1e-5)
				})
			for i, o := range outs {
				w.compare(fmt.Sprintf("%s out %d", what, i), o)
			}
			w.compare(what+" leaves x", x)
		}
		for _, c := range []struct {
			what                         string
			norm, gate, up, width, inter int
		}{{"", 0, 4, 5, 64, 192}, {"wide", 13, 12, 14, 4096, 40}, {"rows of 512", 16, 18, 19, 512, 24}, {"uneven chunks", 24, 26, 27, 2048, 1031}} {
			what := fmt.Sprintf("norm_glu %s n=%d", c.what, n)
			x, xb := w.span(n*c.width, true), w.span(n*c.width, false)
			tmp, out := w.span(n*c.inter, false), w.span(n*c.inter, true)
			w.fill(x)
			w.fill(out)
			w.run(what,
				func(o device.LLMOps) error { return o.NormGLU(ws.w, c.norm, c.gate, c.up, x, xb, tmp, out, n, 1e-5) },
				func(o device.LLMOps) error {
					return compose.NormGLU(o, w.size, ws.w, c.norm, c.gate, c.up, x, xb, tmp, out, n, 1e-5)
				})
			w.compare(what, out)
			w.compare(what+" leaves x", x)
		}
		for _, id := range []int{6, 10, 15, 20, 23, 25} {
			rows, in := ws.ts[id].Shape[0], ws.ts[id].Shape[1]
			what := fmt.Sprintf("linear_add %dx%d n=%d", rows, in, n)
			x, tmp, resid := w.span(n*in, false), w.span(n*rows, true), w.span(n*rows, false)
			w.fill(x)
			w.fill(resid)
			w.run(what,
				func(o device.LLMOps) error { return o.LinearAdd(ws.w, id, x, tmp, resid, n) },
				func(o device.LLMOps) error { return compose.LinearAdd(o, w.size, ws.w, id, x, tmp, resid, n) })
			w.compare(what, resid)
		}
	}
}

// otherDType is a weight dtype other than dt.
func otherDType(dt string) string {
	if dt == "F32" {
		return "BF16"
	}
	return "F32"
}

// fusedRoPEKV checks RoPEKV for every KV dtype at the attention shapes.
func fusedRoPEKV(t *testing.T, b Backend, mode device.Mode) {
	w := newTwin(t, b, mode, 16<<20)
	for _, dt := range device.KVDTypes() {
		for _, s := range []attnShape{{1, 0, 8, 2, 16}, {1, 9, 8, 2, 16}, {7, 5, 8, 2, 16}, {3, 4, 6, 3, 6}, {1, 300, 32, 8, 64}} {
			what := fmt.Sprintf("rope_kv %s n=%d pos=%d heads=%d/%d hd=%d", dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
			width := s.kvHeads * s.headDim
			q, k, v := w.span(s.n*s.heads*s.headDim, true), w.span(s.n*width, false), w.span(s.n*width, true)
			inv := w.span(s.headDim/2, false)
			cache := (s.pos + s.n + 3) * width * dt.Size()
			kc, vc := w.bytes(cache, false), w.bytes(cache, false)
			for _, sp := range []device.Span{q, k, v, inv, kc, vc} {
				w.fill(sp) // the caches' bytes are anything; rows pos..pos+n-1 get written
			}
			w.run(what,
				func(o device.LLMOps) error {
					return o.RoPEKV(q, k, v, inv, kc, vc, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
				},
				func(o device.LLMOps) error {
					return compose.RoPEKV(o, w.size, q, k, v, inv, kc, vc, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
				})
			for _, c := range []struct {
				name string
				s    device.Span
			}{{"q", q}, {"k", k}, {"v", v}} {
				w.compare(what+" "+c.name, c.s)
			}
			// The caches hold dtype bits: compare their bytes. V is stored
			// as given, so exactly; K after RoPE, whose last bits an f32
			// cache keeps and a 2-byte one rounds away.
			for _, c := range []struct {
				name  string
				s     device.Span
				exact bool
			}{{"kCache", kc, w.exact || dt != device.KVF32}, {"vCache", vc, true}} {
				if got, want := w.a.read(c.s), w.d.read(c.s); c.exact && string(got) != string(want) {
					t.Errorf("%s: %s differs from its definition's", what, c.name)
				}
			}
		}
	}
}
