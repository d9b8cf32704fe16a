package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/llmref"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Ops holds every basic op to its float64 definition (internal/llmref) in
// every mode: embed, add, argmax and kvstore exactly (they move or convert
// data), the others within the backend's tolerances.
func Ops(t *testing.T, b Backend) {
	checks := byWeightDType(weightOps)
	for _, dt := range device.KVDTypes() {
		checks = append(checks, check{"attention/" + string(dt), func(t *testing.T, b Backend, mode device.Mode) { attentionOps(t, b, mode, dt) }})
	}
	inModes(t, b, append(checks, check{"kvstore rows", kvstoreRows}, check{"argmax", argmaxOps}))
}

// opCheck runs ops on one arena and compares with float64.
type opCheck struct {
	t   *testing.T
	a   *arena
	ws  *tensors
	tol Tolerances
}

// within fails unless |got[i] − want[i]| ≤ tol·scale(i) for every i.
func (c *opCheck) within(what string, got []float32, want []float64, tol float64, scale func(i int) float64) {
	c.t.Helper()
	worst := 0.0
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if !(d <= tol*scale(i)) {
			c.t.Errorf("%s: element %d of %d is %v, float64 %v (tolerance %g·%g)", what, i, len(want), got[i], w, tol, scale(i))
			return
		}
		if s := scale(i); s > 0 {
			worst = max(worst, d/s)
		}
	}
	c.t.Logf("%s: max error %.3g of the scale", what, worst)
}

// rowMax scales by the largest |want| of the element's row of width.
func rowMax(want []float64, width int) func(int) float64 {
	return func(i int) float64 {
		r := i / width
		m := 0.0
		for _, v := range want[r*width : (r+1)*width] {
			m = max(m, math.Abs(v))
		}
		return m
	}
}

// weightOps checks embed, rmsnorm, linear, swiglu and add, and a chain of
// them queued before one Sync, for weights of dtype dt at n = 1 (decode)
// and n > 1 (prefill).
func weightOps(t *testing.T, b Backend, mode device.Mode, dt string) {
	r := rand.New(rand.NewPCG(3, uint64(len(dt))))
	c := &opCheck{t: t, tol: b.Tol, a: newArena(t, b.Device, mode, 48<<20, 1), ws: load(t, b.Device, r, []tensorSpec{
		{"embed", dt, 1, 0, []int{50, 64}},      // 0
		{"norm", dt, 0.1, 1, []int{64}},         // 1
		{"w", dt, 0.2, 0, []int{96, 64}},        // 2: vector loads
		{"odd", dt, 0.2, 0, []int{13, 37}},      // 3: element loads, ragged tiles
		{"big", dt, 0.05, 0, []int{40, 4096}},   // 4: long rows: x in shared memory, unrolled loops
		{"wide", dt, 0.05, 0, []int{24, 16000}}, // 5: x too long for shared memory
		{"tall", dt, 0.05, 0, []int{1000, 6}},   // 6: many short rows, in % 4 != 0
	})}
	for _, n := range []int{1, 5, 33} {
		c.embed(n)
		x := c.a.f32s(n*64, true)
		xs := c.a.fill(x)
		out := c.a.f32s(n*64, false)
		c.rmsnorm(fmt.Sprintf("rmsnorm n=%d", n), x, out, xs, n)
		c.rmsnorm(fmt.Sprintf("rmsnorm in place n=%d", n), x, x, xs, n)
		for id := 2; id <= 6; id++ {
			c.linear(id, n)
		}
		c.swigluAdd(n)
	}
	c.chain()
}

func (c *opCheck) embed(n int) {
	a := c.a
	tok := a.span(4*n, false)
	ids := make([]float32, n) // int32 bits, written as words
	want := make([]float32, 0, n*64)
	for i := range ids {
		id := (i*7 + 3) % 50
		ids[i] = math.Float32frombits(uint32(id))
		want = append(want, c.ws.vals[0][id*64:(id+1)*64]...)
	}
	a.writeF32(tok, ids)
	out := a.f32s(n*64, true)
	a.poison(out)
	a.check("embed", a.ops.Embed(c.ws.w, 0, tok, out, n))
	if got := a.readF32(out); relNorm(got, want) != 0 {
		c.t.Errorf("embed n=%d: rows differ from the table's", n)
	}
}

func (c *opCheck) rmsnorm(what string, x, out device.Span, xs []float32, n int) {
	a := c.a
	if out != x {
		a.poison(out)
	} else {
		a.writeF32(x, xs)
	}
	a.check(what, a.ops.RMSNorm(c.ws.w, 1, x, out, n, 1e-5))
	var want []float64
	norm := llmref.Widen(c.ws.vals[1])
	for r := range n {
		want = append(want, llmref.RMSNorm(llmref.Widen(xs[r*64:(r+1)*64]), norm, 1e-5)...)
	}
	c.within(what, a.readF32(out), want, c.tol.Elementwise, rowMax(want, 64))
}

func (c *opCheck) linear(id, n int) {
	a, t := c.a, c.ws.ts[id]
	rows, in := t.Shape[0], t.Shape[1]
	x := a.f32s(n*in, true)
	xs := a.fill(x)
	out := a.f32s(n*rows, true)
	a.poison(out)
	what := fmt.Sprintf("linear %dx%d n=%d", rows, in, n)
	a.check(what, a.ops.Linear(c.ws.w, id, x, out, n))
	want, mag := make([]float64, n*rows), make([]float64, n*rows)
	w := c.ws.vals[id]
	for tk := range n {
		for o := range rows {
			for i := range in {
				p := float64(w[o*in+i]) * float64(xs[tk*in+i])
				want[tk*rows+o] += p
				mag[tk*rows+o] += math.Abs(p)
			}
		}
	}
	tol := c.tol.Linear
	if n > 1 {
		tol = c.tol.Prefill
	}
	c.within(what, a.readF32(out), want, tol, func(i int) float64 { return mag[i] })
}

func (c *opCheck) swigluAdd(n int) {
	a := c.a
	g, u := a.f32s(n*50, false), a.f32s(n*50, true)
	gs, us := a.fill(g), a.fill(u)
	out := a.f32s(n*50, false)
	a.poison(out)
	want := llmref.SwiGLU(llmref.Widen(gs), llmref.Widen(us))
	a.check("swiglu", a.ops.SwiGLU(g, u, out, n*50))
	c.within(fmt.Sprintf("swiglu n=%d", n), a.readF32(out), want, c.tol.Elementwise, rowMax(want, len(want)))
	a.check("swiglu in place", a.ops.SwiGLU(g, u, g, n*50))
	c.within(fmt.Sprintf("swiglu in place n=%d", n), a.readF32(g), want, c.tol.Elementwise, rowMax(want, len(want)))
	a.writeF32(g, gs)
	a.check("add", a.ops.Add(g, u, n*50))
	sum := make([]float32, len(gs))
	for i := range gs {
		sum[i] = gs[i] + us[i]
	}
	if got := a.readF32(g); relNorm(got, sum) != 0 {
		c.t.Errorf("add n=%d: not the float32 sums", n)
	}
}

// chain queues rmsnorm, add, rmsnorm and linear, each reading the one
// before, with no Sync between: a backend that batches ops (metal's one
// encoder) must still run them in order.
func (c *opCheck) chain() {
	a := c.a
	x, h, y := a.f32s(3*64, false), a.f32s(3*64, false), a.f32s(3*96, false)
	xs := a.fill(x)
	a.poison(h)
	a.poison(y)
	w := c.ws.w
	for _, err := range []error{a.ops.RMSNorm(w, 1, x, h, 3, 1e-5), a.ops.Add(x, h, 3*64), a.ops.RMSNorm(w, 1, x, h, 3, 1e-5), a.ops.Linear(w, 2, h, y, 3)} {
		a.check("chain", err)
	}
	norm, w2 := llmref.Widen(c.ws.vals[1]), llmref.Widen(c.ws.vals[2])
	var want, mag []float64
	for r := range 3 {
		xr := llmref.Widen(xs[r*64 : (r+1)*64])
		for i, v := range llmref.RMSNorm(xr, norm, 1e-5) {
			xr[i] += v
		}
		hr := llmref.RMSNorm(xr, norm, 1e-5)
		want = append(want, llmref.Linear(hr, w2, 96)...)
		for o := range 96 {
			var m float64
			for i := range 64 {
				m += math.Abs(w2[o*64+i] * hr[i])
			}
			mag = append(mag, m)
		}
	}
	c.within("queued chain", a.readF32(y), want, 4*c.tol.Prefill, func(i int) float64 { return mag[i] })
}

// attnShape is one attention case: n query tokens at position pos.
type attnShape struct{ n, pos, heads, kvHeads, headDim int }

// attentionShapes cover GQA 4:1, 2:1, 8:1 and 1:1, decode at position 0, 9,
// 700 and 3000 (contexts a GPU splits, the last in many splits), short
// passes (9 tokens) and prefill at pos > 0 over several 64-key tiles with
// a partial last one, head sizes 64 and 128 (a GPU's fast kernels) and odd
// ones (6, 16, 130).
var attentionShapes = []attnShape{{1, 0, 8, 2, 16}, {1, 9, 8, 2, 16}, {1, 700, 32, 8, 64}, {7, 5, 8, 2, 16},
	{40, 100, 4, 1, 64}, {3, 4, 6, 3, 6}, {2, 300, 4, 4, 130}, {1, 3000, 8, 2, 64}, {9, 130, 16, 4, 64},
	{100, 30, 8, 2, 64}, {3, 200, 8, 1, 128}}

// attentionOps checks RoPE, KVStore and Attention, in the order a layer
// runs them, for KV dtype dt.
func attentionOps(t *testing.T, b Backend, mode device.Mode, dt device.KVDType) {
	a := newArena(t, b.Device, mode, 48<<20, 2)
	c := &opCheck{t: t, a: a, tol: b.Tol}
	for _, s := range attentionShapes {
		name := fmt.Sprintf("n=%d pos=%d heads=%d/%d hd=%d", s.n, s.pos, s.heads, s.kvHeads, s.headDim)
		in := newAttnInputs(a, s, dt)
		qs, ks := in.qs, in.ks
		a.check("rope q", a.ops.RoPE(in.q, in.inv, s.n, s.heads, s.headDim, s.pos))
		a.check("rope k", a.ops.RoPE(in.k, in.inv, s.n, s.kvHeads, s.headDim, s.pos))
		wq, wk := ropeRef(qs, s.heads, s, in.invFreq), ropeRef(ks, s.kvHeads, s, in.invFreq)
		c.within("rope q "+name, a.readF32(in.q), wq, c.tol.Elementwise, rowMax(wq, s.heads*s.headDim))
		c.within("rope k "+name, a.readF32(in.k), wk, c.tol.Elementwise, rowMax(wk, s.kvHeads*s.headDim))
		a.check("kvstore k", a.ops.KVStore(in.k, in.kc, dt, s.n, s.pos, in.width))
		a.check("kvstore v", a.ops.KVStore(in.v, in.vc, dt, s.n, s.pos, in.width))
		in.checkStored(t, "kvstore "+name, a.readF32(in.k), a.readF32(in.v))
		out := a.f32s(s.n*s.heads*s.headDim, false)
		a.poison(out)
		a.check("attention", a.ops.Attention(in.q, in.kc, in.vc, out, dt, s.n, s.pos, s.heads, s.kvHeads, s.headDim))
		want := in.attention(t, a.readF32(in.q))
		c.within("attention "+name, a.readF32(out), want, c.tol.Attention, func(int) float64 { return 1 })
	}
}

// attnInputs are one attention case's operands in an arena: random q, k and
// v rows, RoPE's inverse frequencies, and K and V caches of pos+n+3 rows
// whose first pos rows hold random keys and values stored by the backend's
// KVStore, and whose rows after pos+n hold random bytes that must stay.
type attnInputs struct {
	a                  *arena
	s                  attnShape
	dt                 device.KVDType
	width              int
	q, k, v, inv       device.Span
	kc, vc             device.Span
	qs, ks, vs         []float32
	invFreq            []float32
	kcBefore, vcBefore []byte
}

func newAttnInputs(a *arena, s attnShape, dt device.KVDType) *attnInputs {
	in := &attnInputs{a: a, s: s, dt: dt, width: s.kvHeads * s.headDim}
	maxSeq := s.pos + s.n + 3
	in.q = a.f32s(s.n*s.heads*s.headDim, true)
	in.k, in.v = a.f32s(s.n*in.width, false), a.f32s(s.n*in.width, true)
	in.inv = a.f32s(s.headDim/2, false)
	in.invFreq = make([]float32, s.headDim/2)
	for i := range in.invFreq {
		in.invFreq[i] = float32(math.Pow(10000, -2*float64(i)/float64(s.headDim)))
	}
	a.writeF32(in.inv, in.invFreq)
	rowBytes := in.width * dt.Size()
	in.kc, in.vc = a.span(maxSeq*rowBytes, false), a.span(maxSeq*rowBytes, false)
	for _, c := range []device.Span{in.kc, in.vc} {
		junk := make([]byte, c.Len)
		for i := range junk {
			junk[i] = byte(a.r.Uint32())
		}
		a.write(c, junk)
		if s.pos > 0 {
			src := a.f32s(s.pos*in.width, false)
			a.fill(src)
			a.check("kvstore of earlier rows", a.ops.KVStore(src, c, dt, s.pos, 0, in.width))
		}
	}
	in.kcBefore, in.vcBefore = a.read(in.kc), a.read(in.vc)
	in.qs, in.ks, in.vs = a.fill(in.q), a.fill(in.k), a.fill(in.v)
	return in
}

// ropeRef rotates x (n rows of heads heads) as llmref.RoPE does.
func ropeRef(x []float32, heads int, s attnShape, invFreq []float32) []float64 {
	w := heads * s.headDim
	want := llmref.Widen(x)
	for tk := range s.n {
		llmref.RoPE(want[tk*w:(tk+1)*w], heads, s.headDim, s.pos+tk, invFreq)
	}
	return want
}

// checkStored checks that cache rows pos..pos+n-1 hold k and v converted to
// the dtype (rounded to nearest even) and every other row is unchanged.
func (in *attnInputs) checkStored(t *testing.T, what string, k, v []float32) {
	t.Helper()
	row := in.width * in.dt.Size()
	lo, hi := in.s.pos*row, (in.s.pos+in.s.n)*row
	for _, c := range []struct {
		name   string
		cache  device.Span
		before []byte
		src    []float32
	}{{"K", in.kc, in.kcBefore, k}, {"V", in.vc, in.vcBefore, v}} {
		got := in.a.read(c.cache)
		want, err := safetensors.FromFloat32(safetensors.DType(in.dt.WeightDType()), c.src)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[lo:hi]) != string(want) {
			t.Errorf("%s: %s rows %d..%d are not the rounded values", what, c.name, in.s.pos, in.s.pos+in.s.n-1)
		}
		if string(got[:lo]) != string(c.before[:lo]) || string(got[hi:]) != string(c.before[hi:]) {
			t.Errorf("%s: %s rows outside %d..%d changed", what, c.name, in.s.pos, in.s.pos+in.s.n-1)
		}
	}
}

// attention is llmref.Attention of the rotated queries q over the caches'
// stored rows.
func (in *attnInputs) attention(t *testing.T, q []float32) []float64 {
	s := in.s
	keys := widenKV(t, in.a.read(in.kc), in.dt, in.width)
	values := widenKV(t, in.a.read(in.vc), in.dt, in.width)
	var want []float64
	w := s.heads * s.headDim
	for tk := range s.n {
		ctx := s.pos + tk + 1
		want = append(want, llmref.Attention(llmref.Widen(q[tk*w:(tk+1)*w]), keys[:ctx], values[:ctx], s.heads, s.kvHeads, s.headDim)...)
	}
	return want
}

// kvstoreRows stores rows of an odd width into 2-byte caches, so that a row
// starts 2 bytes past a multiple of 4, and checks the bytes around them.
func kvstoreRows(t *testing.T, b Backend, mode device.Mode) {
	a := newArena(t, b.Device, mode, 1<<20, 4)
	for _, dt := range device.KVDTypes() {
		for _, c := range []struct{ n, pos int }{{1, 3}, {2, 4}, {3, 0}} {
			in := newAttnInputs(a, attnShape{n: c.n, pos: c.pos, heads: 1, kvHeads: 1, headDim: 7}, dt)
			a.check("kvstore", a.ops.KVStore(in.k, in.kc, dt, c.n, c.pos, 7))
			a.check("kvstore", a.ops.KVStore(in.v, in.vc, dt, c.n, c.pos, 7))
			in.checkStored(t, fmt.Sprintf("kvstore %s width 7 n=%d pos=%d", dt, c.n, c.pos), in.ks, in.vs)
		}
	}
}

// argmaxOps checks ties (the first index wins), rows holding NaN or an
// infinity (−1: the engine reports such logits as an error), and rows as
// wide as a vocabulary.
func argmaxOps(t *testing.T, b Backend, mode device.Mode) {
	a := newArena(t, b.Device, mode, 8<<20, 5)
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	for _, width := range []int{1, 7, 1000, 8192, 50001, 128256} {
		const n = 4
		x := a.f32s(n*width, false)
		v := a.random(n * width)
		// Row 0: a tie of two late maxima; row 1: NaN first, then a tie;
		// row 2: random; row 3: −∞ everywhere and a NaN (rows 1 and 3: −1).
		v[width-1], v[width/2] = 5, 5
		v[width], v[width+width/3], v[2*width-1] = nan, 7, 7
		for i := range width {
			v[3*width+i] = inf
		}
		v[3*width+width/2] = nan
		a.writeF32(x, v)
		out := a.f32s(n, false)
		a.poison(out)
		a.check("argmax", a.ops.Argmax(x, out, n, width))
		got := a.readF32(out)
		for r := range n {
			if want := llmref.Argmax(v[r*width : (r+1)*width]); int(int32(math.Float32bits(got[r]))) != want {
				t.Errorf("argmax width %d row %d: %d, want %d", width, r, int32(math.Float32bits(got[r])), want)
			}
		}
	}
}
