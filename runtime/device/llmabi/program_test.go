package llmabi

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// callLog is a device.LLMOps that records the calls dispatched to it and
// holds each to Validate on memory of size bytes, as a backend's method
// would before touching memory.
type callLog struct {
	size  uint64
	calls []Call
	err   error // the first dispatched call that did not validate
}

func (r *callLog) rec(w device.Weights, c Call) error {
	if err := c.Validate(r.size, w); err != nil && r.err == nil {
		r.err = err
	}
	r.calls = append(r.calls, c)
	return nil
}

func (r *callLog) Embed(w device.Weights, table int, tokens, out device.Span, n int) error {
	return r.rec(w, Embed(table, tokens, out, n))
}
func (r *callLog) RMSNorm(w device.Weights, weight int, x, out device.Span, n int, eps float32) error {
	return r.rec(w, RMSNorm(weight, x, out, n, eps))
}
func (r *callLog) Linear(w device.Weights, weight int, x, out device.Span, n int) error {
	return r.rec(w, Linear(weight, x, out, n))
}
func (r *callLog) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	return r.rec(nil, RoPE(x, invFreq, n, heads, headDim, pos))
}
func (r *callLog) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	return r.rec(nil, KVStore(src, cache, dt, n, pos, width))
}
func (r *callLog) Attention(q, kCache, vCache, out device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return r.rec(nil, Attention(q, kCache, vCache, out, dt, n, pos, heads, kvHeads, headDim))
}
func (r *callLog) SwiGLU(gate, up, out device.Span, count int) error {
	return r.rec(nil, SwiGLU(gate, up, out, count))
}
func (r *callLog) Add(x, y device.Span, count int) error { return r.rec(nil, Add(x, y, count)) }
func (r *callLog) Argmax(x, out device.Span, n, width int) error {
	return r.rec(nil, Argmax(x, out, n, width))
}
func (r *callLog) Sync() error { return r.rec(nil, Sync()) }
func (r *callLog) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	return r.rec(w, NormLinear(norm, weights, x, xb, outs, n, eps))
}
func (r *callLog) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	return r.rec(w, NormGLU(norm, gate, up, x, xb, tmp, out, n, eps))
}
func (r *callLog) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	return r.rec(w, LinearAdd(weight, x, tmp, resid, n))
}
func (r *callLog) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return r.rec(nil, RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim))
}

// testStep is a small token step over testWeights at position pos, in the
// engine's shape: the token id at tokens+4·pos, q/k/v, rope_kv and
// attention at pos over 8-row f32 caches, the output and MLP, argmax, sync.
// Memory: 4096 bytes.
func testStep(pos int) []Call {
	x, xb, q, k, v := sp(0, 32), sp(32, 32), sp(64, 32), sp(96, 16), sp(112, 16)
	inv, att, hb, hb2 := sp(128, 8), sp(160, 32), sp(192, 48), sp(256, 48)
	kc, vc, logits, next := sp(512, 128), sp(640, 128), sp(768, 40), sp(816, 4)
	tokens := sp(1024+4*uint64(pos), 4)
	return []Call{
		Embed(0, tokens, x, 1),
		NormLinear(1, []int{4, 5, 6}, x, xb, []device.Span{q, k, v}, 1, 1e-5),
		RoPEKV(q, k, v, inv, kc, vc, device.KVF32, 1, pos, 2, 1, 4),
		Attention(q, kc, vc, att, device.KVF32, 1, pos, 2, 1, 4),
		LinearAdd(4, att, xb, x, 1),
		NormGLU(1, 7, 8, x, xb, hb2, hb, 1, 1e-5),
		LinearAdd(9, hb, xb, x, 1),
		NormLinear(1, []int{0}, x, xb, []device.Span{logits}, 1, 1e-5),
		Argmax(logits, next, 1, 10),
		Sync(),
	}
}

const testStepMemory = 4096

func recordTestStep(t testing.TB) *Program {
	t.Helper()
	p, err := Record(func(pos int) ([]Call, error) { return testStep(pos), nil }, 7)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMaxWireWords holds the program limits' word count to the table.
func TestMaxWireWords(t *testing.T) {
	n := 0
	for _, op := range Ops() {
		n = max(n, op.Words())
	}
	if n != maxWireWords {
		t.Fatalf("the widest op takes %d words, maxWireWords is %d", n, maxWireWords)
	}
}

// TestRecord: the test step's moving words are exactly the token's offset
// and the two positions, and the program equals a recording at every
// position of its context.
func TestRecord(t *testing.T) {
	p := recordTestStep(t)
	want := []Patch{{Call: 0, Word: 1, Slope: 4}, {Call: 2, Word: 14, Slope: 1}, {Call: 3, Word: 10, Slope: 1}}
	if !slices.Equal(p.Patches, want) {
		t.Fatalf("patches %v, want %v", p.Patches, want)
	}
	x, err := NewExec(p, &callLog{size: testStepMemory}, testStepMemory, testWeights, 0)
	if err != nil {
		t.Fatal(err)
	}
	for pos := range 8 {
		log := x.ops.(*callLog)
		log.calls = nil
		if err := x.Run(testStepMemory, pos); err != nil {
			t.Fatalf("position %d: %v", pos, err)
		}
		if log.err != nil {
			t.Fatalf("position %d: a dispatched call does not validate: %v", pos, log.err)
		}
		for i, c := range testStep(pos) {
			if !slices.Equal(c.Encode(nil), log.calls[i].Encode(nil)) {
				t.Fatalf("position %d op %d: ran %v, the step issues %v", pos, i, log.calls[i].Encode(nil), c.Encode(nil))
			}
		}
	}
}

// TestRecordRefuses: steps that are not the same calls at every position,
// or whose words do not move on a line, are refused, naming the call and word.
func TestRecordRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		step func(pos int) ([]Call, error)
		want string
	}{
		{"more calls later", func(pos int) ([]Call, error) { return testStep(pos)[:8+min(pos, 1)], nil }, "9 calls at position 1, 8 at position 0"},
		{"other op", func(pos int) ([]Call, error) {
			s := testStep(pos)
			if pos > 1 {
				s[4] = Add(sp(0, 32), sp(32, 32), 8)
			}
			return s, nil
		}, "op 4 is linear_add at position 0, linear_add at 1 and add at 9"},
		{"a square", func(pos int) ([]Call, error) {
			s := testStep(pos)
			s[3].I[1] = pos * pos
			return s, nil
		}, "op 3 (attention) word 10 is 0 at position 0, 1 at 1 and 81 at 9: not a straight line"},
		{"a step down", func(pos int) ([]Call, error) {
			s := testStep(pos)
			if pos > 1 {
				s[0].S[1].Off = 4
			}
			return s, nil
		}, "op 0 (embed) word 3 is 0 at position 0, 0 at 1 and 4 at 9"},
		{"an error", func(pos int) ([]Call, error) { return nil, errors.New("no") }, "record program at position 0: no"},
		{"no calls", func(pos int) ([]Call, error) { return nil, nil }, "0 calls, want 1 to 4096"},
	} {
		_, err := Record(c.step, 9)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Record(func(int) ([]Call, error) { return testStep(0), nil }, 1); err == nil {
		t.Error("a check position of 1 was accepted")
	}
}

// TestProgramWireRoundTrip: Encode and DecodeProgram are inverse, and Key
// follows the words.
func TestProgramWireRoundTrip(t *testing.T) {
	p := recordTestStep(t)
	words := p.Encode()
	q, err := DecodeProgram(words)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Encode(), words) || !slices.Equal(q.Patches, p.Patches) || q.Key() != p.Key() {
		t.Fatalf("round trip changed the program")
	}
	q.Calls[1].I[0] = 2
	if q.Key() == p.Key() {
		t.Fatal("programs with different calls have one key")
	}
}

// TestDecodeProgramRefuses: each malformed wire form is an error naming
// what is wrong and where.
func TestDecodeProgramRefuses(t *testing.T) {
	good := recordTestStep(t).Encode()
	nc := 10
	patches := len(good) - 9 // the three patches' first word
	edit := func(f func(w []uint32) []uint32) []uint32 { return f(slices.Clone(good)) }
	for _, c := range []struct {
		name  string
		words []uint32
		want  string
	}{
		{"empty", nil, "shorter than its 3-word header"},
		{"magic", edit(func(w []uint32) []uint32 { w[0]++; return w }), "not the magic"},
		{"no calls", []uint32{ProgramMagic, 0, 0}, "program of 0 calls"},
		{"huge op count", edit(func(w []uint32) []uint32 { w[1] = 1 << 30; return w }), "program of 1073741824 calls: want 1 to 4096"},
		{"huge patch count", edit(func(w []uint32) []uint32 { w[2] = 1 << 31; return w }), "program of 2147483648 patches"},
		{"patches beyond the words", edit(func(w []uint32) []uint32 { w[2] = 2000; return w }), "cannot hold its 2000 patches"},
		{"more calls than words", edit(func(w []uint32) []uint32 { w[1] = 11; return w }), "program op 10: the words end after 10 of 11 calls"},
		{"fewer calls than words", edit(func(w []uint32) []uint32 { w[1] = 9; return w }), "1 words between its 9 calls and its 3 patches"},
		{"unknown op code", edit(func(w []uint32) []uint32 { w[3] = 99; return w }), "program op 0: code 99 is not in the op table"},
		{"op code past a byte", edit(func(w []uint32) []uint32 { w[3] = 256; return w }), "program op 0: code 256"},
		{"cut call", good[:patches-1], "program op 7 (norm_linear): its 17 words run past the calls' words (15 left)"},
		{"bad dtype code", edit(func(w []uint32) []uint32 { w[3+7+18+13] = 9; return w }), "program op 2: rope_kv: KV dtype code 9"},
		{"patch of another op", edit(func(w []uint32) []uint32 { w[patches+6] = uint32(nc); return w }), "program patch 2: op 10 is not one of the program's 10"},
		{"patch of no word", edit(func(w []uint32) []uint32 { w[patches+7] = 15; return w }), "program patch 2: op 3 (attention) has 14 words, not a word 15"},
		{"patch of a weight", edit(func(w []uint32) []uint32 { w[patches+1] = 0; return w }), "program patch 0: op 0 (embed) word 0 (table) is not an offset, a length or an integer scalar"},
		{"patch of a dtype", edit(func(w []uint32) []uint32 { w[patches+7] = 8; return w }), "word 8 (dt) is not an offset"},
		{"slope 0", edit(func(w []uint32) []uint32 { w[patches+2] = 0; return w }), "program patch 0: op 0 (embed) word 1 (tokens) has slope 0"},
		{"unsorted", edit(func(w []uint32) []uint32 { w[patches+6] = 1; return w }), "program patch 2: op 1 word 10 follows op 2 word 14"},
		{"twice", edit(func(w []uint32) []uint32 { w[patches+6], w[patches+7] = 2, 14; return w }), "program patch 2: op 2 word 14 follows op 2 word 14"},
	} {
		_, err := DecodeProgram(c.words)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// fakeRunner is a device that prepares programs: it logs what it is asked.
type fakeRunner struct {
	callLog
	prepErr        error
	prepared, runs int
	closed         bool
	lastPos        int
}

func (f *fakeRunner) PrepareProgram(p *Program, w device.Weights) (PreparedProgram, error) {
	f.prepared++
	if f.prepErr != nil {
		return nil, f.prepErr
	}
	return f, nil
}
func (f *fakeRunner) Run(pos int, calls []Call) error {
	f.runs, f.lastPos = f.runs+1, pos
	return nil
}
func (f *fakeRunner) Close() error { f.closed = true; return nil }

// TestExecOnDevice: a ProgramRunner gets the program once and each run's
// position; one that leaves it to be run call by call gets the calls.
func TestExecOnDevice(t *testing.T) {
	p := recordTestStep(t)
	f := &fakeRunner{callLog: callLog{size: testStepMemory}}
	x, err := NewExec(p, f, testStepMemory, testWeights, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Run(testStepMemory, 5); err != nil || !x.OnDevice() || f.prepared != 1 || f.runs != 1 || f.lastPos != 5 || len(f.calls) != 0 {
		t.Fatalf("run on the device: %v, prepared %d, runs %d at %d, %d calls dispatched", err, f.prepared, f.runs, f.lastPos, len(f.calls))
	}
	if err := x.Close(); err != nil || !f.closed {
		t.Fatalf("close: %v, device closed %v", err, f.closed)
	}
	if err := x.Run(testStepMemory, 5); err == nil {
		t.Fatal("a closed program ran")
	}

	f = &fakeRunner{callLog: callLog{size: testStepMemory}, prepErr: ErrCallByCall}
	if x, err = NewExec(p, f, testStepMemory, testWeights, 0); err != nil {
		t.Fatal(err)
	}
	if err := x.Run(testStepMemory, 5); err != nil || x.OnDevice() || f.runs != 0 || len(f.calls) != len(p.Calls) {
		t.Fatalf("call by call: %v, runs %d, %d calls dispatched", err, f.runs, len(f.calls))
	}
	f = &fakeRunner{prepErr: errors.New("out of graphs")}
	if _, err := NewExec(p, f, testStepMemory, testWeights, 0); err == nil || !strings.Contains(err.Error(), "prepare program on the device: out of graphs") {
		t.Fatalf("a refused prepare: %v", err)
	}
}

// TestExecRefuses: a call invalid when the program is made, or made
// invalid by a run's position, is an error naming the call's index and the
// operand, and a refused run dispatches nothing.
func TestExecRefuses(t *testing.T) {
	p := recordTestStep(t)
	with := func(f func(p *Program)) *Program {
		q, _ := DecodeProgram(p.Encode())
		f(q)
		return q
	}
	for _, c := range []struct {
		name string
		p    *Program
		size uint64
		want string
	}{
		{"too small a memory", p, 1000, "program op 0: embed: tokens [1024, +4) is outside memory of 1000 bytes"},
		{"overlapping outputs", with(func(p *Program) { p.Calls[1].S[3].Off = 64 }), testStepMemory, "program op 1: norm_linear: outs[1] [64, +16) overlaps outs[0] [64, +32)"},
		{"wrapping range", with(func(p *Program) { p.Calls[4].S[0].Off = math.MaxUint64 - 8 }), testStepMemory, "program op 4: linear_add: x [18446744073709551607, +32) is outside memory"},
		{"no such weight", with(func(p *Program) { p.Calls[6].W[0] = 99 }), testStepMemory, "program op 6: linear_add: weight: no weight tensor 99"},
		{"unknown op", with(func(p *Program) { p.Calls[9].Op = 77 }), testStepMemory, "program op 9: op 77 is not in the op table"},
		{"patch of a weight", with(func(p *Program) { p.Patches[0].Word = 0 }), testStepMemory, "program patch 0: op 0 (embed) word 0 (table) is not an offset, a length or an integer scalar: it cannot move with the position"},
	} {
		_, err := NewExec(c.p, &callLog{}, c.size, testWeights, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := NewExec(&Program{}, &callLog{}, testStepMemory, testWeights, 0); err == nil {
		t.Error("an empty program was accepted")
	}

	// Runs: the cache holds 8 rows; the token ids end at 1024+4·pos.
	log := &callLog{size: testStepMemory}
	x, err := NewExec(p, log, testStepMemory, testWeights, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pos  int
		size uint64
		want string
	}{
		{8, testStepMemory, "program op 2 at position 8: rope_kv: pos + n = 9 is beyond kCache's rows = 8"},
		{800, testStepMemory, "program op 0 at position 800: embed: tokens [4224, +4) is outside memory of 4096 bytes"},
		{-1, testStepMemory, "program position -1 is not in [0, 2^31)"},
		{1 << 31, testStepMemory, "program position 2147483648 is not in [0, 2^31)"},
		{1<<31 - 1, testStepMemory, "program op 0 (embed) at position 2147483647: tokens would be 8589935612, outside [0, 2^32)"},
	} {
		err := x.Run(c.size, c.pos)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run at %d: %v, want %q", c.pos, err, c.want)
		}
		if len(log.calls) != 0 {
			t.Errorf("run at %d: a refused run dispatched %d calls", c.pos, len(log.calls))
		}
	}
	// A word that moves down leaves 32 bits below 0.
	down := with(func(p *Program) { p.Patches[0].Slope = -4 })
	down.Calls[0].S[0].Off = 1024 + 4*7
	if x, err = NewExec(down, log, testStepMemory, testWeights, 0); err != nil {
		t.Fatal(err)
	}
	if err := x.Run(testStepMemory, 7); err != nil {
		t.Fatal(err)
	}
	if err := x.Run(testStepMemory, 1000); err == nil || !strings.Contains(err.Error(), "tokens would be -2948") {
		t.Errorf("a word moved below 0: %v", err)
	}
}

// TestExecWork: the work cap holds each call and the calls of a run
// together, when the program is made and at each run (attention's work
// grows with the position).
func TestExecWork(t *testing.T) {
	p := recordTestStep(t)
	// Multiply-adds: norm_linear 3·8·8 = 128 and 10·8 = 80, linear_add 64
	// and 96, norm_glu 2·12·8 = 192; attention at pos 2·(pos+1)·2·4.
	// At position 0: 576 in all.
	var we *WorkError
	if _, err := NewExec(p, &callLog{}, testStepMemory, testWeights, 100); !errors.As(err, &we) || we.Index != 1 || we.Pos != -1 {
		t.Fatalf("a call over the cap: %v", err)
	}
	if _, err := NewExec(p, &callLog{}, testStepMemory, testWeights, 575); !errors.As(err, &we) || we.Index != -1 || we.Work != 576 ||
		!strings.Contains(err.Error(), "program asks for 576 multiply-adds in all, more than the limit of 575") {
		t.Fatalf("calls over the cap together: %v", err)
	}
	// 64-row caches, the token ids after them.
	p.Calls[2].S[4].Len, p.Calls[2].S[5].Len, p.Calls[3].S[1].Len, p.Calls[3].S[2].Len = 1024, 1024, 1024, 1024
	p.Calls[2].S[5].Off, p.Calls[3].S[2].Off = 1536, 1536
	p.Calls[0].S[0].Off = 2560
	x, err := NewExec(p, &callLog{size: testStepMemory}, testStepMemory, testWeights, 700)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Run(testStepMemory, 7); err != nil { // 560 + 128
		t.Fatal(err)
	}
	err = x.Run(testStepMemory, 8) // 560 + 144
	if !errors.As(err, &we) || we.Index != -1 || we.Pos != 8 || we.Work != 704 ||
		!strings.Contains(err.Error(), "program at position 8 asks for 704 multiply-adds in all, more than the limit of 700") {
		t.Fatalf("a run over the cap: %v", err)
	}
	err = x.Run(testStepMemory, 44) // attention alone: 720
	if !errors.As(err, &we) || we.Index != 3 || we.Pos != 44 ||
		!strings.Contains(err.Error(), "program op 3 (attention) at position 44 asks for 720 multiply-adds, more than the limit of 700") {
		t.Fatalf("a call over the cap at a later position: %v", err)
	}
}

// FuzzProgram hands the program decoder, validator and runner arbitrary
// words and positions: they must refuse or run, never panic, and every
// call a run dispatches must lie inside memory and validate, at every
// position the run accepted.
func FuzzProgram(f *testing.F) {
	good := recordTestStep(f).Encode()
	bytesOf := func(words []uint32) []byte {
		b := make([]byte, 4*len(words))
		for i, w := range words {
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		return b
	}
	f.Add(bytesOf(good), uint32(3))
	f.Add(bytesOf(good), uint32(8))
	f.Add(bytesOf(good), uint32(1<<31))
	f.Add(bytesOf(good[:40]), uint32(0))
	f.Add(bytesOf([]uint32{ProgramMagic, 1, 0, uint32(OpSync)}), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, pos uint32) {
		words := make([]uint32, len(b)/4)
		for i := range words {
			words[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		}
		p, err := DecodeProgram(words)
		if err != nil {
			return
		}
		log := &callLog{size: testStepMemory}
		x, err := NewExec(p, log, testStepMemory, testWeights, 1<<20)
		if err != nil {
			return
		}
		if err := x.Run(testStepMemory, int(pos)); err != nil {
			if len(log.calls) != 0 {
				t.Fatalf("a refused run dispatched %d calls: %v", len(log.calls), err)
			}
			return
		}
		if log.err != nil {
			t.Fatalf("a run at %d dispatched a call that does not validate: %v", pos, log.err)
		}
		if len(log.calls) != len(p.Calls) {
			t.Fatalf("a run dispatched %d of %d calls", len(log.calls), len(p.Calls))
		}
	})
}
