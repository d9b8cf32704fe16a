package wasm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// tinyStep is a Tiny decode step over a guest's 64 KiB scratch region at
// v, in the engine's shape: the token id at v+60K+4·pos, layer 0's
// attention block over 32-row f32 caches at pos, its MLP, the logits of
// the tied head, argmax and sync. It writes a valid token id (0) at every
// position it reads.
func tinyStep(cfg models.Config, v uint32, pos int) []llmabi.Call {
	sp := func(off, n uint32) device.Span { return device.Span{Off: uint64(v + off), Len: uint64(n)} }
	ids := llm.IDs(cfg)
	L := ids.Layers[0]
	x, xb, q, k, vv := sp(0, 256), sp(256, 256), sp(512, 256), sp(768, 128), sp(896, 128)
	att, inv, hb, hb2 := sp(1024, 256), sp(1280, 32), sp(2048, 768), sp(2816, 768)
	kc, vc, logits, next := sp(4096, 4096), sp(8192, 4096), sp(12288, 2048), sp(14336, 4)
	tokens := sp(60<<10+4*uint32(pos), 4)
	eps := float32(cfg.RMSNormEps)
	return []llmabi.Call{
		llmabi.Embed(ids.Embed, tokens, x, 1),
		llmabi.NormLinear(L.AttnNorm, []int{L.Q, L.K, L.V}, x, xb, []device.Span{q, k, vv}, 1, eps),
		llmabi.RoPEKV(q, k, vv, inv, kc, vc, device.KVF32, 1, pos, 4, 2, 16),
		llmabi.Attention(q, kc, vc, att, device.KVF32, 1, pos, 4, 2, 16),
		llmabi.LinearAdd(L.O, att, xb, x, 1),
		llmabi.NormGLU(L.MLPNorm, L.Gate, L.Up, x, xb, hb2, hb, 1, eps),
		llmabi.LinearAdd(L.Down, hb, xb, x, 1),
		llmabi.NormLinear(ids.FinalNorm, []int{ids.LMHead}, x, xb, []device.Span{logits}, 1, eps),
		llmabi.Argmax(logits, next, 1, cfg.VocabSize),
		llmabi.Sync(),
	}
}

// programGuest is a Tiny guest with a 64 KiB scratch region (v) and a
// buffer big enough for any program's words (buf).
type programGuest struct {
	g      *wasm.Guest
	w      *models.Weights
	v, buf uint32
}

func newProgramGuest(t testing.TB, r *wasm.Runtime) *programGuest {
	t.Helper()
	g, w := llmGuest(t, r, device.ZeroCopy, device.KVBF16)
	return &programGuest{g: g, w: w, v: uint32(call(t, g, "alloc", 64<<10)[0]), buf: uint32(call(t, g, "alloc", llmabi.MaxProgramBytes+64)[0])}
}

// words is the wire form of the Tiny step program over the scratch region.
func (p *programGuest) words(t testing.TB) []uint32 {
	t.Helper()
	prog, err := llmabi.Record(func(pos int) ([]llmabi.Call, error) { return tinyStep(p.w.Config, p.v, pos), nil }, 31)
	if err != nil {
		t.Fatal(err)
	}
	return prog.Encode()
}

// submit writes words into the guest's buffer and submits [buf, +n) bytes.
func (p *programGuest) submit(words []uint32, n uint32) (uint32, error) {
	b, ok := p.g.Read(p.buf, uint32(4*len(words)))
	if !ok {
		return 0, fmt.Errorf("program of %d words does not fit the buffer", len(words))
	}
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	res, err := p.g.Call(context.Background(), "raw_program_submit", uint64(p.buf), uint64(n))
	if err != nil {
		return 0, err
	}
	return uint32(res[0]), nil
}

func (p *programGuest) run(h uint32, pos int) error {
	_, err := p.g.Call(context.Background(), "raw_program_run", uint64(h), uint64(uint32(pos)))
	return err
}

func (p *programGuest) free(h uint32) error {
	_, err := p.g.Call(context.Background(), "raw_program_free", uint64(h))
	return err
}

// trapped fails unless err is a trap of llm_program_* whose message holds want.
func trapped(t *testing.T, what string, err error, want string) {
	t.Helper()
	var trap *wasm.TrapError
	if !errors.As(err, &trap) || !strings.HasPrefix(trap.Func, "llm_program_") || !strings.Contains(trap.Msg, want) {
		t.Errorf("%s: got %v, want a trap from llm_program_* saying %q", what, err, want)
	}
}

// TestProgramRuns: a valid program runs at every position of its caches,
// one host call a run, and gives what the same calls made one by one do.
func TestProgramRuns(t *testing.T) {
	r := newRuntime(t)
	p := newProgramGuest(t, r)
	words := p.words(t)
	h, err := p.submit(words, uint32(4*len(words)))
	if err != nil {
		t.Fatal(err)
	}
	calls := p.g.Calls
	for pos := range 32 {
		if err := p.run(h, pos); err != nil {
			t.Fatalf("position %d: %v", pos, err)
		}
	}
	if n := p.g.Calls - calls; n != 32 {
		t.Fatalf("32 runs made %d host calls", n)
	}
	// The same step op by op in a second guest: the same memory afterwards.
	q := newProgramGuest(t, r)
	for pos := range 32 {
		for _, c := range tinyStep(q.w.Config, q.v, pos) {
			if err := callRaw(q.g, rawLLM{op: c.Op, args: c.Encode(nil)[1:]}); err != nil {
				t.Fatalf("position %d op by op: %v", pos, err)
			}
		}
	}
	a, _ := p.g.Read(p.v, 64<<10)
	b, _ := q.g.Read(q.v, 64<<10)
	if !slices.Equal(a, b) {
		t.Fatal("the program and the same calls op by op left different memory")
	}
}

// TestProgramHostile: every malformed or hostile program, handle and run
// traps naming what is wrong, and the guest lives on.
func TestProgramHostile(t *testing.T) {
	r := newRuntime(t)
	p := newProgramGuest(t, r)
	good := p.words(t)
	size := uint32(p.g.Size())
	n := func(w []uint32) uint32 { return uint32(4 * len(w)) }
	edit := func(f func(q *llmabi.Program)) []uint32 {
		q, err := llmabi.DecodeProgram(good)
		if err != nil {
			t.Fatal(err)
		}
		f(q)
		return q.Encode()
	}
	for _, c := range []struct {
		name  string
		words []uint32
		n     uint32
		want  string
	}{
		{"range past the end", edit(func(q *llmabi.Program) { q.Calls[4].S[1].Off = uint64(size - 128) }), 0,
			fmt.Sprintf("program op 4: linear_add: tmp [%d, +256) is outside memory of %d bytes", size-128, size)},
		{"wrapping range", edit(func(q *llmabi.Program) { q.Calls[6].S[2] = device.Span{Off: 0xffffff00, Len: 0x200} }), 0, "program op 6: linear_add: resid [4294967040, +512) is outside memory"},
		{"overlapping outputs", edit(func(q *llmabi.Program) { q.Calls[1].S[3].Off = q.Calls[1].S[2].Off + 64 }), 0, "program op 1: norm_linear: outs[1]"},
		{"output on an input", edit(func(q *llmabi.Program) { q.Calls[3].S[3] = q.Calls[3].S[0] }), 0, "program op 3: attention: out"},
		{"unknown op code", slices.Concat(good[:3], []uint32{200}, good[4:]), 0, "program op 0: code 200 is not in the op table"},
		{"huge op count", slices.Concat(good[:1], []uint32{1 << 30}, good[2:]), 0, "program of 1073741824 calls: want 1 to 4096"},
		{"longer than a program", good, llmabi.MaxProgramBytes + 4, "is longer than a program may be"},
		{"not whole words", good, n(good) - 2, "is not a whole number of 32-bit words"},
		{"bad magic", slices.Concat([]uint32{7}, good[1:]), 0, "not the magic"},
		{"patch of a weight", edit(func(q *llmabi.Program) { q.Patches[0].Word = 0 }), 0, "program patch 0: op 0 (embed) word 0 (table) is not an offset"},
	} {
		if c.n == 0 {
			c.n = n(c.words)
		}
		_, err := p.submit(c.words, c.n)
		trapped(t, c.name, err, c.want)
	}

	_, err := p.g.Call(context.Background(), "raw_program_submit", uint64(size-8), 64)
	trapped(t, "a program longer than memory", err, fmt.Sprintf("program range [%#x, %#x) is outside linear memory of %#x bytes", size-8, size+56, size))

	// Runs: positions that push a range out of memory or beyond a cache.
	// With the token id's offset moving 1 MiB a position, the first
	// position that pushes it out of memory.
	far := edit(func(q *llmabi.Program) { q.Patches[0].Slope = 1 << 20 })
	h, err := p.submit(far, n(far))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.run(h, 0); err != nil {
		t.Fatal(err)
	}
	base := p.v + 60<<10
	out := (size-base)>>20 + 1
	trapped(t, "token offset out of memory", p.run(h, int(out)),
		fmt.Sprintf("program op 0 at position %d: embed: tokens [%d, +4) is outside memory of %d bytes", out, uint64(base)+uint64(out)<<20, size))
	h2, err := p.submit(good, n(good))
	if err != nil {
		t.Fatal(err)
	}
	trapped(t, "position beyond the cache", p.run(h2, 32), "program op 2 at position 32: rope_kv: pos + n = 33 is beyond kCache's rows = 32")
	trapped(t, "position past 2^31", p.run(h2, -5), "program position 4294967291 is not in [0, 2^31)")

	// Handles: another guest's, a closed guest's, a freed one, none.
	other := newProgramGuest(t, r)
	ho, err := other.submit(good, n(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.run(ho, 3); err != nil {
		t.Fatal(err)
	}
	trapped(t, "another guest's handle", p.run(ho, 3), fmt.Sprintf("program handle %d is not one of this guest's", ho))
	other.g.Close(context.Background())
	trapped(t, "a closed guest's handle", p.run(ho, 3), fmt.Sprintf("program handle %d is not one of this guest's", ho))
	if err := p.free(h); err != nil {
		t.Fatal(err)
	}
	trapped(t, "a freed handle", p.run(h, 3), fmt.Sprintf("program handle %d is not one of this guest's", h))
	trapped(t, "a double free", p.free(h), fmt.Sprintf("program handle %d is not one of this guest's", h))
	trapped(t, "handle 0", p.run(0, 3), "program handle 0 is not one of this guest's")

	// Weights swapped since the submit.
	_, dw := tinyWeights(t)
	old := p.g.Weights
	p.g.Weights = dw
	trapped(t, "other weights", p.run(h2, 3), fmt.Sprintf("program %d was validated against other weights than the guest's now", h2))
	p.g.Weights = old
	if err := p.run(h2, 3); err != nil {
		t.Fatalf("with its weights back: %v", err)
	}

	// At most 16 programs at once.
	var hs []uint32
	for range 15 {
		h, err := p.submit(good, n(good))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	_, err = p.submit(good, n(good))
	trapped(t, "a 17th program", err, "the guest holds 16 programs, the most it may")
	for _, h := range hs {
		if err := p.free(h); err != nil {
			t.Fatal(err)
		}
	}
	// The guest is alive and still computes.
	if _, err := p.g.LLMPrefill(context.Background(), []int32{1, 2, 3}); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

// TestProgramWorkLimit: a program whose run asks for more multiply-adds
// than MaxCallWork is refused as that limit, when submitted or when a
// position makes attention grow past it.
func TestProgramWorkLimit(t *testing.T) {
	// Tiny's step: 2·64·64+2·32·64 (qkv) + 64·64 (o) + 2·192·64 (gate, up)
	// + 64·192 (down) + 512·64 (head) = 81920, attention 2·(pos+1)·4·16.
	r := limitedRuntime(t, wasm.Limits{MaxCallWork: 81920 + 128*10})
	p := newProgramGuest(t, r)
	good := p.words(t)
	h, err := p.submit(good, uint32(4*len(good)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.run(h, 9); err != nil {
		t.Fatal(err)
	}
	err = p.run(h, 10)
	trapped(t, "a run over MaxCallWork", err, "program at position 10 asks for 83328 multiply-adds in all")
	if limitOf(err) != "MaxCallWork" {
		t.Errorf("a run over MaxCallWork: %v is not the limit's", err)
	}
	r = limitedRuntime(t, wasm.Limits{MaxCallWork: 81920})
	q := newProgramGuest(t, r)
	_, err = q.submit(good, uint32(4*len(good)))
	if limitOf(err) != "MaxCallWork" {
		t.Errorf("a program over MaxCallWork: %v", err)
	}
}

// checkedMemory is a cpu Memory whose LLM ops first check, as the host
// must have, that each call lies inside memory and validates: it records
// the first call that does not, which the host should never have let by.
type checkedMemory struct {
	device.Memory
	ops device.LLMOps
	bad error
}

func (m *checkedMemory) check(w device.Weights, c llmabi.Call) error {
	if err := c.Validate(m.Size(), w); err != nil && m.bad == nil {
		m.bad = err
	}
	return llmabi.Dispatch(m.ops, w, &c)
}

func (m *checkedMemory) Embed(w device.Weights, table int, tokens, out device.Span, n int) error {
	return m.check(w, llmabi.Embed(table, tokens, out, n))
}
func (m *checkedMemory) RMSNorm(w device.Weights, weight int, x, out device.Span, n int, eps float32) error {
	return m.check(w, llmabi.RMSNorm(weight, x, out, n, eps))
}
func (m *checkedMemory) Linear(w device.Weights, weight int, x, out device.Span, n int) error {
	return m.check(w, llmabi.Linear(weight, x, out, n))
}
func (m *checkedMemory) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	return m.check(nil, llmabi.RoPE(x, invFreq, n, heads, headDim, pos))
}
func (m *checkedMemory) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	return m.check(nil, llmabi.KVStore(src, cache, dt, n, pos, width))
}
func (m *checkedMemory) Attention(q, kCache, vCache, out device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return m.check(nil, llmabi.Attention(q, kCache, vCache, out, dt, n, pos, heads, kvHeads, headDim))
}
func (m *checkedMemory) SwiGLU(gate, up, out device.Span, count int) error {
	return m.check(nil, llmabi.SwiGLU(gate, up, out, count))
}
func (m *checkedMemory) Add(x, y device.Span, count int) error {
	return m.check(nil, llmabi.Add(x, y, count))
}
func (m *checkedMemory) Argmax(x, out device.Span, n, width int) error {
	return m.check(nil, llmabi.Argmax(x, out, n, width))
}
func (m *checkedMemory) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	return m.check(w, llmabi.NormLinear(norm, weights, x, xb, outs, n, eps))
}
func (m *checkedMemory) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	return m.check(w, llmabi.NormGLU(norm, gate, up, x, xb, tmp, out, n, eps))
}
func (m *checkedMemory) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	return m.check(w, llmabi.LinearAdd(weight, x, tmp, resid, n))
}
func (m *checkedMemory) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return m.check(nil, llmabi.RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim))
}

// FuzzHostileProgram hands the host arbitrary program words, lengths and
// positions through a guest: the host must run the program or trap, never
// crash or fail inside (a Go runtime error is a failure), and never let a
// call reach the device that does not lie inside the guest's memory. A
// guest whose kernels overwrote its own runtime may then fault ("wasm
// error: …"): it is replaced, as in FuzzHostileLLM.
func FuzzHostileProgram(f *testing.F) {
	ctx := context.Background()
	r := newRuntime(f)
	_, dw := tinyWeights(f)
	var mem *checkedMemory
	fresh := func(tb testing.TB) *programGuest {
		d, _ := cpu.Open()
		g, err := r.Instantiate(ctx, func(max uint64) (device.Memory, error) {
			m, err := d.NewMemory(device.ZeroCopy, max)
			if err != nil {
				return nil, err
			}
			mem = &checkedMemory{Memory: m, ops: m.(device.LLMOps)}
			return mem, nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		g.Weights = dw
		if err := g.LLMInit(ctx, models.Tiny(), device.KVBF16, 32, 8); err != nil {
			tb.Fatal(err)
		}
		return &programGuest{g: g, w: &models.Weights{Config: models.Tiny()}, v: uint32(call(tb, g, "alloc", 64<<10)[0]),
			buf: uint32(call(tb, g, "alloc", llmabi.MaxProgramBytes+64)[0])}
	}
	p := fresh(f)
	f.Cleanup(func() { p.g.Close(ctx) })
	good := p.words(f)
	bytesOf := func(words []uint32) []byte {
		b := make([]byte, 4*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b
	}
	f.Add(bytesOf(good), uint32(3), uint32(0))
	f.Add(bytesOf(good), uint32(31), uint32(0))
	f.Add(bytesOf(good), uint32(32), uint32(0))
	f.Add(bytesOf(good), uint32(1<<31), uint32(0))
	f.Add(bytesOf(good), uint32(3), uint32(2))
	f.Add(bytesOf(good[:30]), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, pos, cut uint32) {
		if len(b) > llmabi.MaxProgramBytes {
			return
		}
		words := make([]uint32, (len(b)+3)/4)
		for i := range b {
			words[i/4] |= uint32(b[i]) << (8 * (i % 4))
		}
		h, err := p.submit(words, uint32(len(b))-min(cut, uint32(len(b))))
		if err == nil {
			if err = p.run(h, int(pos)); err == nil {
				err = p.free(h)
			} else {
				p.free(h)
			}
		}
		if mem.bad != nil {
			t.Fatalf("the host let a call reach the device that does not validate: %v", mem.bad)
		}
		var trap *wasm.TrapError
		switch {
		case err == nil:
		case errors.As(err, &trap):
			var mf *device.MemoryFault
			if strings.Contains(trap.Msg, "internal error") || errors.As(err, &mf) {
				t.Fatalf("the host failed inside: %v", err)
			}
		case strings.Contains(err.Error(), "wasm error:"):
			// The guest broke itself; the host must be intact.
			p.g.Close(ctx)
			p = fresh(t)
			if _, perr := p.g.LLMPrefill(ctx, []int32{1, 2, 3}); perr != nil {
				t.Fatalf("new guest after a guest fault: %v", perr)
			}
		default:
			t.Fatalf("neither a host trap nor a guest fault: %v", err)
		}
	})
}
