//go:build darwin

package metal

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// The LLM ops are checked against the cpu backend (float32 arithmetic, the
// contract's reference semantics) on the same random inputs: each case
// lays out its spans in both memories, poisons the outputs with NaN, runs
// the op on both and compares every written float by ‖metal−cpu‖/‖cpu‖.
// Tolerances: exact for pure data movement (embed, add, argmax, V cache
// bytes); 1e-6 for per-element math (rmsnorm, rope, swiglu: precise:: float
// functions against the cpu's float64 ones rounded once); 1e-5 for dot
// products (Linear, attention: float32 sums in another order).

// llmModes are the metal modes the op tests run in.
var llmModes = []device.Mode{device.ZeroCopy, device.Copy}

// llmPair is one cpu and one metal memory with the same bytes, and both
// devices' weights.
type llmPair struct {
	t        *testing.T
	ref, gpu device.Memory
	rw, gw   device.Weights
	top      uint64
	r        *rand.Rand
}

const llmPairSize = 64 << 20

func newLLMPair(t *testing.T, d *Device, mode device.Mode, ts []device.WeightTensor) *llmPair {
	t.Helper()
	cd, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	p := &llmPair{t: t, top: 256, r: rand.New(rand.NewPCG(uint64(len(ts)), 7))}
	if p.ref, err = cd.NewMemory(device.ZeroCopy, llmPairSize); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ref.Close() })
	if p.gpu, err = d.NewMemory(mode, llmPairSize); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.gpu.Close(); err != nil {
			t.Errorf("metal memory close: %v", err)
		}
	})
	for _, m := range []device.Memory{p.ref, p.gpu} {
		if err := m.Grow(llmPairSize); err != nil {
			t.Fatal(err)
		}
	}
	if p.rw, err = cd.LoadWeights(ts); err != nil {
		t.Fatal(err)
	}
	if p.gw, err = d.LoadWeights(ts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.gw.Close(); err != nil {
			t.Errorf("metal weights close: %v", err)
		}
	})
	return p
}

// span reserves n bytes, 256-aligned, or 4 bytes past that with odd.
func (p *llmPair) span(n int, odd bool) device.Span {
	off := (p.top + 255) &^ 255
	if odd {
		off += 4
	}
	p.top = off + uint64(n)
	return device.Span{Off: off, Len: uint64(n)}
}

// quiesce waits for the metal ops queued so far: the host must not rewrite
// an input of an op that has not run yet (the contract's Sync rule).
func (p *llmPair) quiesce() {
	if err := p.gpu.Sync(); err != nil {
		p.t.Fatal(err)
	}
}

// fill writes the same random floats in [-1, 1) to s in both memories.
func (p *llmPair) fill(s device.Span) {
	p.quiesce()
	for i := uint64(0); i < s.Len/4; i++ {
		p.put(s.Off+4*i, math.Float32bits(p.r.Float32()*2-1))
	}
}

// put writes one 32-bit word to both memories.
func (p *llmPair) put(off uint64, v uint32) {
	*(*uint32)(unsafe.Pointer(&p.ref.Bytes()[off])) = v
	*(*uint32)(unsafe.Pointer(&p.gpu.Bytes()[off])) = v
}

// poison writes NaN to s in both memories.
func (p *llmPair) poison(s device.Span) {
	p.quiesce()
	for i := uint64(0); i < s.Len/4; i++ {
		p.put(s.Off+4*i, 0x7fc00000)
	}
}

// ops returns both memories' LLMOps.
func (p *llmPair) ops() (ref, gpu device.LLMOps) {
	return p.ref.(device.LLMOps), p.gpu.(device.LLMOps)
}

// compare syncs and returns the relative error of f32 span s; it fails on
// NaN (an unwritten or broken output).
func (p *llmPair) compare(s device.Span) float64 {
	p.t.Helper()
	p.quiesce()
	a := f32(p.gpu.Bytes(), s.Off, int(s.Len/4))
	b := f32(p.ref.Bytes(), s.Off, int(s.Len/4))
	var num, den float64
	for i := range a {
		if math.IsNaN(float64(a[i])) {
			p.t.Fatalf("output float %d of %d is NaN (unwritten?)", i, len(a))
		}
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// same syncs and reports whether span s holds the same bytes in both memories.
func (p *llmPair) same(s device.Span) bool {
	p.quiesce()
	return string(p.ref.Bytes()[s.Off:s.End()]) == string(p.gpu.Bytes()[s.Off:s.End()])
}

// randTensor makes a random tensor of dtype dt and shape, values in
// [-1, 1)·scale + bias.
func randTensor(t *testing.T, r *rand.Rand, name, dt string, scale, bias float32, shape ...int) device.WeightTensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = (r.Float32()*2-1)*scale + bias
	}
	data, err := models.FromFloat32(models.DType(dt), v)
	if err != nil {
		t.Fatal(err)
	}
	return device.WeightTensor{Name: name, DType: dt, Shape: shape, Data: data}
}

func checkRel(t *testing.T, what string, err error, rel, tol float64) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !(rel <= tol) {
		t.Errorf("%s: relative error %.3g > %.3g", what, rel, tol)
	} else {
		t.Logf("%s: relative error %.3g", what, rel)
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// TestLLMOps runs every op but attention against the cpu backend in both
// modes, at Tiny-like and odd shapes, n = 1 and n > 1, weight dtypes
// bf16/f16/f32.
func TestLLMOps(t *testing.T) {
	d := openOrSkip(t)
	for _, mode := range llmModes {
		for _, wdt := range []string{"BF16", "F16", "F32"} {
			t.Run(string(mode)+"/"+wdt, func(t *testing.T) {
				r := rand.New(rand.NewPCG(3, uint64(len(wdt))))
				ts := []device.WeightTensor{
					randTensor(t, r, "embed", wdt, 1, 0, 50, 64),    // 0
					randTensor(t, r, "norm", wdt, 0.1, 1, 64),       // 1
					randTensor(t, r, "w", wdt, 0.2, 0, 96, 64),      // 2: packed GEMV loads
					randTensor(t, r, "odd", wdt, 0.2, 0, 13, 37),    // 3: element loads, ragged tiles
					randTensor(t, r, "big", wdt, 0.05, 0, 40, 4096), // 4: long rows
					randTensor(t, r, "tall", wdt, 0.05, 0, 1000, 6), // 5: many rows, in%4 != 0
				}
				p := newLLMPair(t, d, mode, ts)
				ro, mo := p.ops()
				for _, n := range []int{1, 5, 33} {
					tok := p.span(4*n, false)
					p.quiesce()
					for i := range n {
						p.put(tok.Off+4*uint64(i), uint32((i*7+3)%50))
					}
					out := p.span(4*n*64, true)
					p.poison(out)
					e1, e2 := ro.Embed(p.rw, 0, tok, out, n), mo.Embed(p.gw, 0, tok, out, n)
					checkRel(t, fmt.Sprintf("embed n=%d", n), firstErr(e1, e2), p.compare(out), 0)

					x := p.span(4*n*64, true)
					p.fill(x)
					o := p.span(4*n*64, false)
					p.poison(o)
					e1, e2 = ro.RMSNorm(p.rw, 1, x, o, n, 1e-5), mo.RMSNorm(p.gw, 1, x, o, n, 1e-5)
					checkRel(t, fmt.Sprintf("rmsnorm n=%d", n), firstErr(e1, e2), p.compare(o), 1e-6)
					e1, e2 = ro.RMSNorm(p.rw, 1, x, x, n, 1e-5), mo.RMSNorm(p.gw, 1, x, x, n, 1e-5)
					checkRel(t, fmt.Sprintf("rmsnorm in place n=%d", n), firstErr(e1, e2), p.compare(x), 1e-6)

					for _, w := range []struct{ id, out, in int }{{2, 96, 64}, {3, 13, 37}, {4, 40, 4096}, {5, 1000, 6}} {
						xs := p.span(4*n*w.in, true)
						p.fill(xs)
						os := p.span(4*n*w.out, true)
						p.poison(os)
						e1, e2 = ro.Linear(p.rw, w.id, xs, os, n), mo.Linear(p.gw, w.id, xs, os, n)
						checkRel(t, fmt.Sprintf("linear %dx%d n=%d", w.out, w.in, n), firstErr(e1, e2), p.compare(os), 1e-5)
					}

					g, u := p.span(4*n*50, false), p.span(4*n*50, true)
					p.fill(g)
					p.fill(u)
					e1, e2 = ro.SwiGLU(g, u, g, n*50), mo.SwiGLU(g, u, g, n*50)
					checkRel(t, fmt.Sprintf("swiglu in place n=%d", n), firstErr(e1, e2), p.compare(g), 1e-6)
					e1, e2 = ro.Add(g, u, n*50), mo.Add(g, u, n*50)
					checkRel(t, fmt.Sprintf("add n=%d", n), firstErr(e1, e2), p.compare(g), 0)
				}
				// Several dependent ops queued before one Sync (zerocopy
				// batches them in one encoder): norm, project, residual.
				x, h, y := p.span(4*3*64, false), p.span(4*3*64, false), p.span(4*3*96, false)
				p.fill(x)
				p.poison(h)
				p.poison(y)
				for _, ops := range []struct {
					o device.LLMOps
					w device.Weights
				}{{ro, p.rw}, {mo, p.gw}} {
					if err := firstErr(ops.o.RMSNorm(ops.w, 1, x, h, 3, 1e-5), ops.o.Add(x, h, 3*64),
						ops.o.RMSNorm(ops.w, 1, x, h, 3, 1e-5), ops.o.Linear(ops.w, 2, h, y, 3)); err != nil {
						t.Fatal(err)
					}
				}
				checkRel(t, "queued chain", nil, p.compare(y), 1e-5)
			})
		}
	}
}

// TestLLMAttention checks RoPE, KVStore and Attention together in both
// modes and every KV dtype: GQA 4:1, 2:1 and 1:1, n = 1 (decode at pos 0,
// 9 and 700: a context spread over all SIMD groups) and n > 1 (prefill at
// pos > 0), odd head counts and head sizes (6, 130).
func TestLLMAttention(t *testing.T) {
	d := openOrSkip(t)
	type shape struct{ n, pos, heads, kvHeads, headDim int }
	shapes := []shape{{1, 0, 8, 2, 16}, {1, 9, 8, 2, 16}, {1, 700, 32, 8, 64}, {7, 5, 8, 2, 16}, {40, 100, 4, 1, 64}, {3, 4, 6, 3, 6}, {2, 300, 4, 4, 130}}
	for _, mode := range llmModes {
		for _, dt := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
			t.Run(string(mode)+"/"+string(dt), func(t *testing.T) {
				p := newLLMPair(t, d, mode, nil)
				ro, mo := p.ops()
				for _, s := range shapes {
					name := fmt.Sprintf("n=%d pos=%d heads=%d/%d hd=%d", s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					width := s.kvHeads * s.headDim
					maxSeq := s.pos + s.n + 3
					q := p.span(4*s.n*s.heads*s.headDim, true)
					k := p.span(4*s.n*width, false)
					v := p.span(4*s.n*width, true)
					inv := p.span(4*s.headDim/2, false)
					p.quiesce()
					for i := range s.headDim / 2 {
						p.put(inv.Off+4*uint64(i), math.Float32bits(float32(math.Pow(10000, -2*float64(i)/float64(s.headDim)))))
					}
					kc := p.span(maxSeq*width*dt.Size(), false)
					vc := p.span(maxSeq*width*dt.Size(), true)
					// Earlier cache rows come from KVStore of random rows.
					if s.pos > 0 {
						src := p.span(4*s.pos*width, false)
						for _, c := range []device.Span{kc, vc} {
							p.fill(src)
							if err := firstErr(ro.KVStore(src, c, dt, s.pos, 0, width), mo.KVStore(src, c, dt, s.pos, 0, width)); err != nil {
								t.Fatal(err)
							}
						}
					}
					p.fill(q)
					p.fill(k)
					p.fill(v)
					e1, e2 := ro.RoPE(q, inv, s.n, s.heads, s.headDim, s.pos), mo.RoPE(q, inv, s.n, s.heads, s.headDim, s.pos)
					checkRel(t, "rope q "+name, firstErr(e1, e2), p.compare(q), 1e-6)
					e1, e2 = ro.RoPE(k, inv, s.n, s.kvHeads, s.headDim, s.pos), mo.RoPE(k, inv, s.n, s.kvHeads, s.headDim, s.pos)
					checkRel(t, "rope k "+name, firstErr(e1, e2), p.compare(k), 1e-6)
					for _, c := range []struct{ src, cache device.Span }{{k, kc}, {v, vc}} {
						if err := firstErr(ro.KVStore(c.src, c.cache, dt, s.n, s.pos, width), mo.KVStore(c.src, c.cache, dt, s.n, s.pos, width)); err != nil {
							t.Fatal(err)
						}
					}
					// V is stored bitwise alike (the conversions are
					// bit-exact); K went through each backend's RoPE, whose
					// last-bit differences a cache may keep.
					if !p.same(vc) {
						t.Errorf("kvstore %s %s: V caches differ", dt, name)
					}
					out := p.span(4*s.n*s.heads*s.headDim, false)
					p.poison(out)
					e1 = ro.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					e2 = mo.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					checkRel(t, "attention "+name, firstErr(e1, e2), p.compare(out), 1e-5)
				}
			})
		}
	}
}

// TestLLMKVStoreOddRows stores rows of an odd width into 2-byte caches, so
// that row pos starts 2 bytes past a multiple of 4 (bindOffset's case), and
// checks the cache bytes, the rows around them untouched.
func TestLLMKVStoreOddRows(t *testing.T) {
	d := openOrSkip(t)
	for _, mode := range llmModes {
		for _, dt := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
			p := newLLMPair(t, d, mode, nil)
			ro, mo := p.ops()
			const width, maxSeq = 7, 9
			cache := p.span(maxSeq*width*dt.Size(), false)
			p.fill(cache) // arbitrary bytes that must survive around the rows written
			for _, c := range []struct{ n, pos int }{{1, 3}, {2, 4}, {3, 0}} {
				src := p.span(4*c.n*width, true)
				p.fill(src)
				e1, e2 := ro.KVStore(src, cache, dt, c.n, c.pos, width), mo.KVStore(src, cache, dt, c.n, c.pos, width)
				if err := firstErr(e1, e2); err != nil {
					t.Fatal(err)
				}
				if !p.same(cache) {
					t.Errorf("%s %s: n=%d pos=%d: caches differ", mode, dt, c.n, c.pos)
				}
			}
		}
	}
}

// TestLLMArgmax checks ties (first index wins), NaN and a 128256-wide row.
func TestLLMArgmax(t *testing.T) {
	d := openOrSkip(t)
	for _, mode := range llmModes {
		t.Run(string(mode), func(t *testing.T) {
			p := newLLMPair(t, d, mode, nil)
			ro, mo := p.ops()
			for _, width := range []int{1, 7, 1000, 128256} {
				const n = 4
				x := p.span(4*n*width, false)
				p.fill(x)
				// Row 0: a tie between two late maxima; row 1: NaN first,
				// then a tie; row 2: random; row 3: all −inf.
				p.put(x.Off+4*uint64(width-1), math.Float32bits(5))
				p.put(x.Off+4*uint64(width/2), math.Float32bits(5))
				p.put(x.Off+4*uint64(width), 0x7fc00000)
				p.put(x.Off+4*uint64(width+width/3), math.Float32bits(7))
				p.put(x.Off+4*uint64(width+width-1), math.Float32bits(7))
				for i := range width {
					p.put(x.Off+4*uint64(3*width+i), 0xff800000)
				}
				out := p.span(4*n, false)
				p.poison(out)
				if err := firstErr(ro.Argmax(x, out, n, width), mo.Argmax(x, out, n, width)); err != nil {
					t.Fatal(err)
				}
				if !p.same(out) {
					t.Errorf("argmax width %d: metal %v, cpu %v", width, p.gpu.Bytes()[out.Off:out.End()], p.ref.Bytes()[out.Off:out.End()])
				}
			}
		})
	}
}

// TestLLMErrors checks that bad calls fail with errors and queue nothing.
func TestLLMErrors(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(1, 2))
	ts := []device.WeightTensor{randTensor(t, r, "embed", "BF16", 1, 0, 50, 64), randTensor(t, r, "w", "BF16", 1, 0, 8, 64)}
	p := newLLMPair(t, d, device.ZeroCopy, ts)
	_, g := p.ops()
	x, o := p.span(4*64, false), p.span(4*8, false)
	tok := p.span(4, false)
	p.put(tok.Off, 50) // outside the table
	q, kc := p.span(4*2*300, false), p.span(4*2*300, false)
	cases := []struct {
		name, want string
		err        error
	}{
		{"bad tensor id", "no weight tensor", g.Linear(p.gw, 9, x, o, 1)},
		{"span outside memory", "outside memory", g.Linear(p.gw, 1, device.Span{Off: llmPairSize - 8, Len: 256}, o, 1)},
		{"wrong shape", "want", g.Linear(p.gw, 1, x, o, 2)},
		{"foreign weights", "not loaded by this metal device", g.Linear(p.rw, 1, x, o, 1)},
		{"token out of range", "outside the table", g.Embed(p.gw, 0, tok, device.Span{Off: x.Off, Len: 256}, 1)},
		{"bad kv dtype", "KV dtype", g.KVStore(x, o, "f8", 1, 0, 8)},
		{"head too large", "above the metal kernel", g.Attention(q, kc, device.Span{Off: kc.End(), Len: kc.Len}, device.Span{Off: kc.End() + kc.Len, Len: q.Len}, device.KVF32, 1, 0, 2, 2, 300)},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := p.gpu.Stats().KernelsLaunch; n != 0 {
		t.Errorf("refused calls launched %d kernels", n)
	}
	if _, err := d.LoadWeights([]device.WeightTensor{{Name: "x", DType: "F64", Shape: []int{2}, Data: make([]byte, 16)}}); err == nil {
		t.Error("LoadWeights accepted an F64 tensor")
	}
}

// runEngine prefills prompt on a native engine (runtime/llm) over mem and
// greedily generates gen tokens; it returns the prefill logits and tokens.
func runEngine(t *testing.T, dev device.LLMDevice, mode device.Mode, ts []device.WeightTensor, cfg models.Config, kv device.KVDType, prompt []int32, gen int) ([]float32, []int32) {
	t.Helper()
	w, err := dev.LoadWeights(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mem, err := dev.NewMemory(mode, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	e, err := llm.NewNative(cfg, mem, w, llm.Options{KV: kv, MaxSeq: 128, MaxBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Prefill(prompt); err != nil { // Prefill ends with Argmax and Sync
		t.Fatal(err)
	}
	logits := slices.Clone(e.Logits())
	toks, err := e.Generate(gen)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Sync(); err != nil {
		t.Fatal(err)
	}
	return logits, toks
}

// TestLLMEngineTiny runs the whole engine on Tiny synthetic bf16 weights
// natively on the cpu backend and on metal in both modes, with f32 and
// bf16 KV caches: prefill logits within 1e-4 (‖Δ‖/‖cpu‖; the op tests'
// 1e-5 compounded over Tiny's layers), and the 24 greedy tokens equal.
func TestLLMEngineTiny(t *testing.T) {
	d := openOrSkip(t)
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 5, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	ts := llm.WeightTensors(mw)
	prompt := []int32{1, 17, 300, 42, 5, 99, 7, 250, 3, 11, 64, 2, 180, 33, 21, 8, 140, 6, 77, 19} // 20 tokens: two passes of 16
	cd, _ := cpu.Open()
	for _, kv := range []device.KVDType{device.KVF32, device.KVBF16} {
		refL, refG := runEngine(t, cd, device.ZeroCopy, ts, cfg, kv, prompt, 24)
		for _, mode := range llmModes {
			l, g := runEngine(t, d, mode, ts, cfg, kv, prompt, 24)
			var num, den float64
			for i := range l {
				num += float64(l[i]-refL[i]) * float64(l[i]-refL[i])
				den += float64(refL[i]) * float64(refL[i])
			}
			rel := math.Sqrt(num / den)
			t.Logf("kv %s %s: prefill logits relative error %.3g; greedy cpu %v metal %v", kv, mode, rel, refG, g)
			if !(rel < 1e-4) {
				t.Errorf("kv %s %s: logits relative error %.3g", kv, mode, rel)
			}
			if !slices.Equal(g, refG) {
				t.Errorf("kv %s %s: greedy tokens differ from the cpu's", kv, mode)
			}
		}
	}
}

// hfFixture is the Hugging Face reference of runtime/llm's
// TestTinyMatchesHuggingFace (models/reference/README.md): Tiny synthetic
// bf16 weights, 20 prompt ids, and transformers' float64 logits.
const hfFixture = "../../../models/reference/testdata/tiny"

// TestLLMTinyMatchesHuggingFace holds the metal engine to the committed HF
// fixture as runtime/llm holds the cpu one: prefill 12 tokens with every
// row's logits, decode the other 8 one at a time; max |Δlogit| / max |logit|
// within 1e-5 with an f32 KV cache (the cpu measures 1.1e-7: the margin is
// for float32 sums in another order and precise:: float exp/cos/sin) and
// 1e-2 with bf16 (the cpu measures 6.5e-4, the rounding of each key and
// value to bf16), and HF's argmax at every position.
func TestLLMTinyMatchesHuggingFace(t *testing.T) {
	d := openOrSkip(t)
	w, err := models.LoadDir(hfFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, err := os.ReadFile(filepath.Join(hfFixture, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var toks []int32
	if err := json.Unmarshal(b, &toks); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(hfFixture, "hf_logits.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lt, _ := f.Tensor("logits")
	ref, err := lt.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	vocab := w.Config.VocabSize
	if len(ref) != len(toks)*vocab {
		t.Fatalf("reference logits hold %d floats, want %d×%d", len(ref), len(toks), vocab)
	}
	dw, err := d.LoadWeights(llm.WeightTensors(w))
	if err != nil {
		t.Fatal(err)
	}
	defer dw.Close()
	for _, kv := range []struct {
		dt  device.KVDType
		tol float64
	}{{device.KVF32, 1e-5}, {device.KVBF16, 1e-2}} {
		for _, mode := range llmModes {
			mem, err := d.NewMemory(mode, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			e, err := llm.NewNative(w.Config, mem, dw, llm.Options{KV: kv.dt, MaxSeq: 64, MaxBatch: 12})
			if err != nil {
				t.Fatal(err)
			}
			// Forward leaves its ops queued: Sync before reading logits.
			run := func(tokens []int32, all bool) []float32 {
				if err := e.Forward(tokens, all); err != nil {
					t.Fatal(err)
				}
				if err := mem.Sync(); err != nil {
					t.Fatal(err)
				}
				return slices.Clone(e.Logits())
			}
			const k = 12
			got := run(toks[:k], true)
			for p := k; p < len(toks); p++ {
				got = append(got, run(toks[p:p+1], false)...)
			}
			var diff, scale float64
			for p := range toks {
				row, want := got[p*vocab:(p+1)*vocab], ref[p*vocab:(p+1)*vocab]
				a, b := 0, 0
				for i := range row {
					diff = max(diff, math.Abs(float64(row[i])-float64(want[i])))
					scale = max(scale, math.Abs(float64(want[i])))
					if row[i] > row[a] {
						a = i
					}
					if want[i] > want[b] {
						b = i
					}
				}
				if a != b {
					t.Errorf("kv %s %s: position %d: argmax %d, Hugging Face %d", kv.dt, mode, p, a, b)
				}
			}
			t.Logf("kv %s %s: max |Δlogit| %.3g, max |logit| %.3g, relative %.3g (tolerance %g)", kv.dt, mode, diff, scale, diff/scale, kv.tol)
			if !(diff <= kv.tol*scale) {
				t.Errorf("kv %s %s: max |Δlogit| %g exceeds %g·%g", kv.dt, mode, diff, kv.tol, scale)
			}
		}
	}
}
