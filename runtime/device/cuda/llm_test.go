package cuda

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// The LLM ops are checked against the cpu backend (float32 arithmetic, the
// contract's reference semantics) on the same random inputs: each case
// lays out its spans in both memories, poisons the outputs with NaN, runs
// the op on both and compares every written float by ‖gpu−cpu‖/‖cpu‖.

// llmModes are the cuda modes the op tests run in.
var llmModes = []device.Mode{device.Managed, device.Mapped, device.Copy, device.Resident}

// pair is one cpu and one cuda memory with the same bytes, and both devices' weights.
type pair struct {
	t        *testing.T
	ref, gpu device.Memory
	rw, gw   device.Weights
	top      uint64
	r        *rand.Rand
}

const pairSize = 64 << 20

func newPair(t *testing.T, d *Device, mode device.Mode, ts []device.WeightTensor) *pair {
	t.Helper()
	cd, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{t: t, top: 256, r: rand.New(rand.NewPCG(uint64(len(ts)), 7))}
	if p.ref, err = cd.NewMemory(device.ZeroCopy, pairSize); err != nil {
		t.Fatal(err)
	}
	if p.gpu, err = d.NewMemory(mode, pairSize); err != nil {
		t.Fatal(err)
	}
	for _, m := range []device.Memory{p.ref, p.gpu} {
		if err := m.Grow(pairSize); err != nil {
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
		p.gw.Close()
		p.gpu.Close()
		p.ref.Close()
	})
	return p
}

// span reserves n bytes (256-aligned, or off by 4 with odd to test alignment).
func (p *pair) span(n int, odd bool) device.Span {
	off := (p.top + 255) &^ 255
	if odd {
		off += 4
	}
	p.top = off + uint64(n)
	return device.Span{Off: off, Len: uint64(n)}
}

// quiesce waits for the gpu's queued ops: the host must not rewrite an
// input of an op that may not have run yet (the contract's Sync rule).
func (p *pair) quiesce() {
	if err := p.gpu.Sync(); err != nil {
		p.t.Fatal(err)
	}
}

// fill writes the same random floats in [-1, 1) to s in both memories.
func (p *pair) fill(s device.Span) {
	p.quiesce()
	for i := uint64(0); i < s.Len/4; i++ {
		v := p.r.Float32()*2 - 1
		p.put(s.Off+4*i, math.Float32bits(v))
	}
	p.upload(s)
}

// put writes one 32-bit word to both memories.
func (p *pair) put(off uint64, v uint32) {
	*(*uint32)(unsafe.Pointer(&p.ref.Bytes()[off])) = v
	*(*uint32)(unsafe.Pointer(&p.gpu.Bytes()[off])) = v
}

// poison writes NaN to s in both memories.
func (p *pair) poison(s device.Span) {
	p.quiesce()
	for i := uint64(0); i < s.Len/4; i++ {
		p.put(s.Off+4*i, 0x7fc00000)
	}
	p.upload(s)
}

func (p *pair) upload(s device.Span) {
	if r, ok := p.gpu.(device.Residenter); ok {
		if err := r.Upload(s); err != nil {
			p.t.Fatal(err)
		}
	}
}

// ops returns both memories' LLMOps.
func (p *pair) ops() (ref, gpu device.LLMOps) {
	return p.ref.(device.LLMOps), p.gpu.(device.LLMOps)
}

// compare syncs and returns the relative error of f32 span s; it fails on
// NaN (an unwritten or broken output).
func (p *pair) compare(s device.Span) float64 {
	p.t.Helper()
	_, g := p.ops()
	if err := g.Sync(); err != nil {
		p.t.Fatal(err)
	}
	if r, ok := p.gpu.(device.Residenter); ok {
		if err := r.Download(s); err != nil {
			p.t.Fatal(err)
		}
	}
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

// randTensor makes a random tensor of dtype dt and shape, values in [-1, 1)·scale (+bias).
func randTensor(r *rand.Rand, name, dt string, scale, bias float32, shape ...int) device.WeightTensor {
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
		panic(err)
	}
	return device.WeightTensor{Name: name, DType: dt, Shape: shape, Data: data}
}

func check(t *testing.T, what string, err error, rel, tol float64) {
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

// TestLLMOps runs every op against the cpu backend in every mode, at
// Tiny-like and odd shapes, n = 1 and n > 1, weight dtypes bf16/f16/f32.
func TestLLMOps(t *testing.T) {
	d := gpu(t)
	for _, mode := range llmModes {
		for _, wdt := range []string{"BF16", "F16", "F32"} {
			t.Run(string(mode)+"/"+wdt, func(t *testing.T) {
				r := rand.New(rand.NewPCG(3, uint64(len(wdt))))
				ts := []device.WeightTensor{
					randTensor(r, "embed", wdt, 1, 0, 50, 64),      // 0
					randTensor(r, "norm", wdt, 0.1, 1, 64),         // 1
					randTensor(r, "w", wdt, 0.2, 0, 96, 64),        // 2: vector GEMV path
					randTensor(r, "odd", wdt, 0.2, 0, 13, 37),      // 3: scalar path
					randTensor(r, "big", wdt, 0.05, 0, 40, 4096),   // 4: x in shared memory, unrolled loop
					randTensor(r, "wide", wdt, 0.05, 0, 24, 16000), // 5: x from global memory
				}
				p := newPair(t, d, mode, ts)
				ro, go_ := p.ops()
				for _, n := range []int{1, 5, 33} {
					// Embed.
					tok := p.span(4*n, false)
					for i := range n {
						p.put(tok.Off+4*uint64(i), uint32((i*7+3)%50))
					}
					p.upload(tok)
					out := p.span(4*n*64, false)
					p.poison(out)
					e1, e2 := ro.Embed(p.rw, 0, tok, out, n), go_.Embed(p.gw, 0, tok, out, n)
					if e1 != nil {
						t.Fatal(e1)
					}
					check(t, "embed n="+itoa(n), e2, p.compare(out), 0)
					// RMSNorm, in place and not.
					x := p.span(4*n*64, true)
					p.fill(x)
					o := p.span(4*n*64, false)
					p.poison(o)
					e1, e2 = ro.RMSNorm(p.rw, 1, x, o, n, 1e-5), go_.RMSNorm(p.gw, 1, x, o, n, 1e-5)
					check(t, "rmsnorm n="+itoa(n), firstErr(e1, e2), p.compare(o), 1e-6)
					e1, e2 = ro.RMSNorm(p.rw, 1, x, x, n, 1e-5), go_.RMSNorm(p.gw, 1, x, x, n, 1e-5)
					check(t, "rmsnorm in place n="+itoa(n), firstErr(e1, e2), p.compare(x), 1e-6)
					// Linear at four shapes.
					for _, w := range []struct{ id, out, in int }{{2, 96, 64}, {3, 13, 37}, {4, 40, 4096}, {5, 24, 16000}} {
						xs := p.span(4*n*w.in, true)
						p.fill(xs)
						os := p.span(4*n*w.out, true)
						p.poison(os)
						e1, e2 = ro.Linear(p.rw, w.id, xs, os, n), go_.Linear(p.gw, w.id, xs, os, n)
						tol := 1e-5
						if n > 1 && wdt == "BF16" {
							tol = 1e-4 // bf16 hi+lo activations on tensor cores
						}
						check(t, "linear "+itoa(w.out)+"x"+itoa(w.in)+" n="+itoa(n), firstErr(e1, e2), p.compare(os), tol)
					}
					// SwiGLU (in place) and Add.
					g, u := p.span(4*n*50, false), p.span(4*n*50, true)
					p.fill(g)
					p.fill(u)
					e1, e2 = ro.SwiGLU(g, u, g, n*50), go_.SwiGLU(g, u, g, n*50)
					check(t, "swiglu n="+itoa(n), firstErr(e1, e2), p.compare(g), 1e-6)
					e1, e2 = ro.Add(g, u, n*50), go_.Add(g, u, n*50)
					check(t, "add n="+itoa(n), firstErr(e1, e2), p.compare(g), 0)
				}
			})
		}
	}
}

// attnShape is one attention case: n query tokens at position pos.
type attnShape struct{ n, pos, heads, kvHeads, headDim int }

// attentionInputs lays out one case's operands in both memories: random q,
// k and v rows for n tokens, RoPE's inverse frequencies, and K and V caches
// of pos+n+3 rows whose first pos rows hold random keys and values, stored
// by each backend's KVStore.
func (p *pair) attentionInputs(s attnShape, dt device.KVDType) (q, k, v, inv, kc, vc device.Span) {
	p.t.Helper()
	ro, gpu := p.ops()
	width := s.kvHeads * s.headDim
	maxSeq := s.pos + s.n + 3
	q = p.span(4*s.n*s.heads*s.headDim, true)
	k, v = p.span(4*s.n*width, false), p.span(4*s.n*width, true)
	inv = p.span(4*s.headDim/2, false)
	for i := range s.headDim / 2 {
		p.put(inv.Off+4*uint64(i), math.Float32bits(float32(math.Pow(10000, -2*float64(i)/float64(s.headDim)))))
	}
	p.upload(inv)
	kc, vc = p.span(maxSeq*width*dt.Size(), false), p.span(maxSeq*width*dt.Size(), false)
	if s.pos > 0 {
		src := p.span(4*s.pos*width, false)
		for _, c := range []device.Span{kc, vc} {
			p.fill(src)
			if err := firstErr(ro.KVStore(src, c, dt, s.pos, 0, width), gpu.KVStore(src, c, dt, s.pos, 0, width)); err != nil {
				p.t.Fatal(err)
			}
		}
	}
	p.fill(q)
	p.fill(k)
	p.fill(v)
	return q, k, v, inv, kc, vc
}

// sameBytes syncs and reports whether span s is byte-identical in both memories.
func (p *pair) sameBytes(s device.Span) bool {
	p.t.Helper()
	_, gpu := p.ops()
	if err := gpu.Sync(); err != nil {
		p.t.Fatal(err)
	}
	if r, ok := p.gpu.(device.Residenter); ok {
		if err := r.Download(s); err != nil {
			p.t.Fatal(err)
		}
	}
	return equalBytes(p.ref.Bytes()[s.Off:s.End()], p.gpu.Bytes()[s.Off:s.End()])
}

// TestLLMAttention checks RoPE, KVStore and Attention together in every
// mode and KV dtype: GQA 4:1 and 2:1, n = 1 (decode, pos 0 and long
// contexts that split) and n > 1 (prefill at pos > 0), odd head sizes.
func TestLLMAttention(t *testing.T) {
	d := gpu(t)
	shapes := []attnShape{{1, 0, 8, 2, 16}, {1, 9, 8, 2, 16}, {1, 700, 32, 8, 64}, {7, 5, 8, 2, 16}, {40, 100, 4, 1, 64}, {3, 4, 6, 3, 6}, {2, 300, 4, 4, 130}}
	for _, mode := range llmModes {
		for _, dt := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
			t.Run(string(mode)+"/"+string(dt), func(t *testing.T) {
				p := newPair(t, d, mode, nil)
				ro, go_ := p.ops()
				for _, s := range shapes {
					name := "n=" + itoa(s.n) + " pos=" + itoa(s.pos) + " heads=" + itoa(s.heads) + "/" + itoa(s.kvHeads) + " hd=" + itoa(s.headDim)
					width := s.kvHeads * s.headDim
					q, k, v, inv, kc, vc := p.attentionInputs(s, dt)
					e1, e2 := ro.RoPE(q, inv, s.n, s.heads, s.headDim, s.pos), go_.RoPE(q, inv, s.n, s.heads, s.headDim, s.pos)
					check(t, "rope q "+name, firstErr(e1, e2), p.compare(q), 1e-6)
					e1, e2 = ro.RoPE(k, inv, s.n, s.kvHeads, s.headDim, s.pos), go_.RoPE(k, inv, s.n, s.kvHeads, s.headDim, s.pos)
					check(t, "rope k "+name, firstErr(e1, e2), p.compare(k), 1e-6)
					for _, c := range []struct{ src, cache device.Span }{{k, kc}, {v, vc}} {
						e1, e2 = ro.KVStore(c.src, c.cache, dt, s.n, s.pos, width), go_.KVStore(c.src, c.cache, dt, s.n, s.pos, width)
						if err := firstErr(e1, e2); err != nil {
							t.Fatal(err)
						}
					}
					// V is stored bitwise alike; K went through each backend's
					// RoPE, whose last-bit differences an f32 cache keeps.
					caches := []device.Span{vc}
					if dt != device.KVF32 {
						caches = append(caches, kc)
					}
					for _, c := range caches {
						if !p.sameBytes(c) {
							t.Errorf("kvstore %s %s: caches differ", dt, name)
						}
					}
					out := p.span(4*s.n*s.heads*s.headDim, false)
					p.poison(out)
					e1 = ro.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					e2 = go_.Attention(q, kc, vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim)
					check(t, "attention "+name, firstErr(e1, e2), p.compare(out), 2e-6)
				}
			})
		}
	}
}

// TestLLMArgmax checks ties (first index wins), NaN and a 128256-wide row.
func TestLLMArgmax(t *testing.T) {
	d := gpu(t)
	for _, mode := range llmModes {
		t.Run(string(mode), func(t *testing.T) {
			p := newPair(t, d, mode, nil)
			ro, go_ := p.ops()
			for _, width := range []int{1, 7, 1000, argmaxSplitWidth, 50001, 128256} {
				n := 3
				x := p.span(4*n*width, false)
				p.fill(x)
				// Row 0: a tie between two late maxima; row 1: NaN first, then a tie; row 2: random.
				p.put(x.Off+4*uint64(width-1), math.Float32bits(5))
				p.put(x.Off+4*uint64(width/2), math.Float32bits(5))
				p.put(x.Off+4*uint64(width), 0x7fc00000)
				p.put(x.Off+4*uint64(width+width/3), math.Float32bits(7))
				p.put(x.Off+4*uint64(width+width-1), math.Float32bits(7))
				p.upload(x)
				out := p.span(4*n, false)
				p.poison(out)
				e1, e2 := ro.Argmax(x, out, n, width), go_.Argmax(x, out, n, width)
				if err := firstErr(e1, e2); err != nil {
					t.Fatal(err)
				}
				if !p.sameBytes(out) {
					t.Errorf("argmax width %d: gpu %v, cpu %v", width, p.gpu.Bytes()[out.Off:out.End()], p.ref.Bytes()[out.Off:out.End()])
				}
			}
			// A split row with nothing above −inf: index 0, as one block gives.
			x := p.span(4*20000, false)
			for i := range 20000 {
				p.put(x.Off+4*uint64(i), math.Float32bits(float32(math.Inf(-1))))
			}
			p.put(x.Off+4*777, 0x7fc00000)
			p.upload(x)
			out := p.span(4, false)
			p.poison(out)
			if err := firstErr(ro.Argmax(x, out, 1, 20000), go_.Argmax(x, out, 1, 20000)); err != nil {
				t.Fatal(err)
			}
			if !p.sameBytes(out) {
				t.Errorf("argmax of −inf and NaN: gpu %v, cpu %v", p.gpu.Bytes()[out.Off:out.End()], p.ref.Bytes()[out.Off:out.End()])
			}
		})
	}
}

// TestLLMErrors checks that bad calls fail with errors and touch nothing.
func TestLLMErrors(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(1, 2))
	ts := []device.WeightTensor{randTensor(r, "embed", "BF16", 1, 0, 50, 64), randTensor(r, "w", "BF16", 1, 0, 8, 64)}
	p := newPair(t, d, device.Managed, ts)
	_, g := p.ops()
	x, o := p.span(4*64, false), p.span(4*8, false)
	tok := p.span(4, false)
	p.put(tok.Off, 50) // outside the table
	cases := []struct {
		name, want string
		err        error
	}{
		{"bad tensor id", "no weight tensor", g.Linear(p.gw, 9, x, o, 1)},
		{"span outside memory", "outside memory", g.Linear(p.gw, 1, device.Span{Off: pairSize - 8, Len: 256}, o, 1)},
		{"wrong shape", "want", g.Linear(p.gw, 1, x, o, 2)},
		{"foreign weights", "not loaded by this cuda device", g.Linear(p.rw, 1, x, o, 1)},
		{"token out of range", "outside the table", g.Embed(p.gw, 0, tok, device.Span{Off: x.Off, Len: 256}, 1)},
		{"bad kv dtype", "KV dtype", g.KVStore(x, o, "f8", 1, 0, 8)},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestLLMEngineTiny runs the whole engine (runtime/llm) on Tiny synthetic
// weights natively on the cpu backend and on cuda in managed and copy
// modes, and compares prefill logits and the greedy continuation.
func TestLLMEngineTiny(t *testing.T) {
	d := gpu(t)
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 5, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	ts := llm.WeightTensors(mw)
	prompt := []int32{1, 17, 300, 42, 5, 99, 7, 250, 3, 11}
	run := func(dev device.LLMDevice, mode device.Mode) ([]float32, []int32) {
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
		e, err := llm.NewNative(cfg, mem, w, llm.Options{KV: device.KVBF16, MaxSeq: 128, MaxBatch: 16})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Prefill(prompt); err != nil {
			t.Fatal(err)
		}
		logits := append([]float32(nil), e.Logits()...)
		gen, err := e.Generate(20)
		if err != nil {
			t.Fatal(err)
		}
		return logits, gen
	}
	cd, _ := cpu.Open()
	refL, refG := run(cd, device.ZeroCopy)
	for _, mode := range []device.Mode{device.Managed, device.Mapped, device.Copy} {
		l, g := run(d, mode)
		var num, den float64
		for i := range l {
			num += float64(l[i]-refL[i]) * float64(l[i]-refL[i])
			den += float64(refL[i]) * float64(refL[i])
		}
		rel := math.Sqrt(num / den)
		t.Logf("%s: prefill logits relative error %.3g; greedy tokens cpu %v cuda %v", mode, rel, refG, g)
		if !(rel < 1e-4) {
			t.Errorf("%s: logits relative error %.3g", mode, rel)
		}
		same := 0
		for i := range g {
			if g[i] != refG[i] {
				break
			}
			same++
		}
		if same < 10 {
			t.Errorf("%s: greedy continuation diverges from the cpu's after %d tokens", mode, same)
		}
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

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// TestLLMManagedArgmaxFeedsEmbed checks managed mode's host-side argmax
// (llm_managed.go): indices an op reads before Sync (Embed taking Argmax's
// out as its ids) are there, two Argmaxes into one span before Sync leave
// the second's, and Sync lands every pending index; and that prefetching
// works where it is on.
func TestLLMManagedArgmaxFeedsEmbed(t *testing.T) {
	d := gpu(t)
	hostio0, prefetch0 := managedHostIO, managedPrefetch
	managedHostIO, managedPrefetch = true, true // prefetching is off by default: exercise it here
	defer func() { managedHostIO, managedPrefetch = hostio0, prefetch0 }()
	r := rand.New(rand.NewPCG(9, 9))
	const vocab, dim = 50, 64
	ts := []device.WeightTensor{randTensor(r, "embed", "F32", 1, 0, vocab, dim)}
	w, err := d.LoadWeights(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dm, err := d.NewMemory(device.Managed, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	if err := dm.Grow(4 << 20); err != nil {
		t.Fatal(err)
	}
	b := dm.Bytes()
	x := device.Span{Off: 0, Len: 2 * vocab * 4}
	v := f32(b, x.Off, 2*vocab)
	for i := range v {
		v[i] = -float32(i%vocab) / 100
	}
	v[17], v[vocab+42] = 3, 4
	y := device.Span{Off: 1024, Len: 2 * vocab * 4}
	copy(f32(b, y.Off, 2*vocab), v)
	f32(b, y.Off, 2*vocab)[5] = 9
	out, out2 := device.Span{Off: 1 << 20, Len: 8}, device.Span{Off: 2 << 20, Len: 8}
	emb := device.Span{Off: 3 << 20, Len: 2 * dim * 4}
	for _, s := range []device.Span{out, out2} {
		copy(b[s.Off:s.End()], []byte{0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f})
	}
	ops := dm.(device.LLMOps)
	for _, err := range []error{
		ops.Argmax(x, out, 2, vocab),
		ops.Embed(w, 0, out, emb, 2), // reads out before any Sync
		ops.Argmax(y, out2, 2, vocab),
		ops.Argmax(x, out2, 2, vocab), // overwrites out2 in stream order
		dm.Sync(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := prefetchErr(asMemory(dm)); err != nil {
		t.Errorf("prefetch: %v", err)
	}
	ints := func(s device.Span) []int32 { return unsafe.Slice((*int32)(unsafe.Pointer(&b[s.Off])), 2) }
	if got := ints(out); got[0] != 17 || got[1] != 42 {
		t.Errorf("argmax: %v, want [17 42]", got)
	}
	if got := ints(out2); got[0] != 17 || got[1] != 42 {
		t.Errorf("second argmax into one span: %v, want [17 42]", got)
	}
	table := unsafe.Slice((*float32)(unsafe.Pointer(&ts[0].Data[0])), vocab*dim)
	rows := f32(b, emb.Off, 2*dim)
	for i, id := range []int{17, 42} {
		for j := range dim {
			if rows[i*dim+j] != table[id*dim+j] {
				t.Fatalf("embed row %d (token %d) element %d: %v, want %v", i, id, j, rows[i*dim+j], table[id*dim+j])
			}
		}
	}
}
