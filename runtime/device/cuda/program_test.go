package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// Tests in this file need a GPU and skip without one.

// recorder runs an engine's kernel calls on a device and, while on, keeps
// a copy of each: how these tests record a decode step as a program.
type recorder struct {
	k     llm.DeviceKernels
	on    bool
	calls []llmabi.Call
}

func (r *recorder) Run(c *llmabi.Call) error {
	if r.on {
		r.calls = append(r.calls, *c)
	}
	return r.k.Run(c)
}

// step records the calls of one decode step of e.
func (r *recorder) step(t *testing.T, e *llm.Engine) []llmabi.Call {
	t.Helper()
	r.on, r.calls = true, nil
	if _, err := e.Decode(e.Next()); err != nil {
		t.Fatal(err)
	}
	r.on = false
	return r.calls
}

// bumpAlloc is llm's native allocator over mem: consecutive 64-byte
// aligned ranges from offset 64, growing mem as needed.
func bumpAlloc(mem device.Memory) llm.Alloc {
	top := uint64(64)
	return func(size uint32) (llm.Buf, []byte, error) {
		off := (top + 63) &^ 63
		end := off + uint64(size)
		if end > mem.Size() {
			if err := mem.Grow((end + 65535) &^ 65535); err != nil {
				return llm.Buf{}, nil, err
			}
		}
		top = end
		view := mem.Bytes()[off:end:end]
		clear(view)
		return llm.Buf{Off: uint32(off), Len: size}, view, nil
	}
}

// derivePatches finds the words of a step's calls that follow its
// position: recorded at positions p, p+1 and p+2 (s0, s1, s2), a word that
// differs must change by the same amount each step, and everything else
// must be equal.
func derivePatches(s0, s1, s2 []llmabi.Call) ([]Patch, error) {
	if len(s0) != len(s1) || len(s0) != len(s2) {
		return nil, fmt.Errorf("steps of %d, %d and %d calls", len(s0), len(s1), len(s2))
	}
	var ps []Patch
	for i := range s0 {
		a, b, c := s0[i], s1[i], s2[i]
		if a.Op != b.Op || a.Op != c.Op || a.W != b.W || a.W != c.W || a.Count != b.Count || a.KV != b.KV || a.F != b.F {
			return nil, fmt.Errorf("call %d (%s) differs between steps beyond its words", i, a.Op)
		}
		for j := range a.I {
			if d1, d2 := b.I[j]-a.I[j], c.I[j]-a.I[j]; d1 != 0 || d2 != 0 {
				if d2 != 2*d1 {
					return nil, fmt.Errorf("call %d (%s) scalar %d: %d, %d, %d is not linear", i, a.Op, j, a.I[j], b.I[j], c.I[j])
				}
				ps = append(ps, Patch{Call: i, Kind: PatchScalar, Index: j, Mul: int64(d1)})
			}
		}
		for j := range a.S {
			if a.S[j].Len != b.S[j].Len || a.S[j].Len != c.S[j].Len {
				return nil, fmt.Errorf("call %d (%s) operand %d changes length", i, a.Op, j)
			}
			d1, d2 := int64(b.S[j].Off)-int64(a.S[j].Off), int64(c.S[j].Off)-int64(a.S[j].Off)
			if d1 != 0 || d2 != 0 {
				if d2 != 2*d1 {
					return nil, fmt.Errorf("call %d (%s) operand %d: offsets not linear", i, a.Op, j)
				}
				ps = append(ps, Patch{Call: i, Kind: PatchOffset, Index: j, Mul: d1})
			}
		}
	}
	return ps, nil
}

// TestProgramMatchesPerOp records a small model's decode step as a
// program and runs it token after token (as a CUDA graph where the mode
// allows) beside an engine decoding the same tokens op by op, in every
// mode the engine runs in, with bf16 and f32 caches: the logits must be
// equal bit for bit (the same kernels with the same launch shapes,
// positions read from the parameter block instead of arguments) and the
// picked tokens equal, across contexts that take one split and several.
// Tiny's head size (16) takes the generic attention kernel, head64's the
// flash-decoding one for bf16 caches.
func TestProgramMatchesPerOp(t *testing.T) {
	d := gpu(t)
	head64 := models.Tiny()
	head64.HiddenSize, head64.IntermediateSize = 256, 512
	head64.NumAttentionHeads, head64.NumKeyValueHeads, head64.HeadDim = 4, 2, 64
	for _, c := range []struct {
		name string
		cfg  models.Config
	}{{"tiny", models.Tiny()}, {"head64", head64}} {
		mw, err := models.Synthetic(c.cfg, 3, models.BF16)
		if err != nil {
			t.Fatal(err)
		}
		w, err := d.LoadWeights(llm.WeightTensors(mw))
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range d.Modes() {
			if mode == device.Resident {
				continue // the engine writes its memory from the host, which a resident mirror does not see
			}
			for _, kv := range []device.KVDType{device.KVBF16, device.KVF32} {
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, mode, kv), func(t *testing.T) { programMatchesPerOp(t, d, w, c.cfg, mode, kv) })
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func programMatchesPerOp(t *testing.T, d *Device, w device.Weights, cfg models.Config, mode device.Mode, kv device.KVDType) {
	opts := llm.Options{KV: kv, MaxSeq: 400, MaxBatch: 16}
	newMem := func() device.Memory {
		mem, err := d.NewMemory(mode, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := mem.Close(); err != nil {
				t.Error(err)
			}
		})
		return mem
	}
	memA, memB := newMem(), newMem()
	eA, err := llm.NewNative(cfg, memA, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{k: llm.DeviceKernels{Ops: memB.(device.LLMOps), Weights: w}}
	eB, err := llm.New(cfg, rec, bumpAlloc(memB), opts)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{1, 17, 200, 33, 5, 90, 41}
	for _, e := range []*llm.Engine{eA, eB} {
		if _, err := e.Prefill(prompt); err != nil {
			t.Fatal(err)
		}
	}
	p0 := eB.Pos()
	steps := [3][]llmabi.Call{}
	for i := range steps {
		steps[i] = rec.step(t, eB)
		if _, err := eA.Decode(eA.Next()); err != nil {
			t.Fatal(err)
		}
		if eA.Next() != eB.Next() {
			t.Fatalf("per-op engines disagree at step %d: %d and %d", i, eA.Next(), eB.Next())
		}
	}
	patches, err := derivePatches(steps[0], steps[1], steps[2])
	if err != nil {
		t.Fatal(err)
	}
	prog, err := asMemory(memB).NewProgram(w, steps[0], []int64{int64(p0)}, patches)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	embed, argmax := -1, -1
	for i, c := range steps[0] {
		switch c.Op {
		case llmabi.OpEmbed:
			embed = i
		case llmabi.OpArgmax:
			argmax = i
		}
	}
	if embed < 0 || argmax < 0 {
		t.Fatalf("a decode step without embed or argmax: %v", steps[0])
	}
	b := memB.Bytes()
	next := eB.Next()
	logits := eB.LogitsBuf()
	// From position p0+3 to past 300: contexts of one split and of several.
	for k := 3; p0+k < 330; k++ {
		pos := p0 + k
		tok := steps[0][embed].S[0].Off + uint64(4*k)
		binary.LittleEndian.PutUint32(b[tok:], uint32(next))
		if err := prog.Run([]int64{int64(pos)}); err != nil {
			t.Fatalf("run at %d: %v", pos, err)
		}
		got := unsafe.Slice((*float32)(unsafe.Pointer(&b[logits.Off])), cfg.VocabSize)
		if _, err := eA.Decode(next); err != nil {
			t.Fatal(err)
		}
		want := eA.Logits()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("position %d: logit %d is %v in the program, %v per op", pos, i, got[i], want[i])
			}
		}
		out := steps[0][argmax].S[1].Off
		next = int32(binary.LittleEndian.Uint32(b[out:]))
		if next != eA.Next() {
			t.Fatalf("position %d: the program picked %d, per op %d", pos, next, eA.Next())
		}
	}
	st := prog.Stats()
	t.Logf("%s/%s: %d runs, %d as a graph (%d kernels each), %d op by op; graphs recorded %d; eager reason: %v",
		mode, kv, st.Runs, st.GraphRuns, st.KernelsPerGraph, st.EagerRuns, st.Recorded, prog.EagerReason())
	if mode != device.Copy && d.drv.hasGraphs() && programGraphs && (prog.EagerReason() != nil || st.GraphRuns+1 < st.Runs) {
		t.Errorf("%s: runs went op by op (%v)", mode, prog.EagerReason())
	}
}

// TestProgramRefusals checks a program's errors on a GPU: weights not of
// this device, a run after the program or its weights closed, a run whose
// position pushes an op past its cache, and a wrong parameter count.
func TestProgramRefusals(t *testing.T) {
	d := gpu(t)
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 3, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := d.NewMemory(device.Managed, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	rec := &recorder{k: llm.DeviceKernels{Ops: mem.(device.LLMOps), Weights: w}}
	e, err := llm.New(cfg, rec, bumpAlloc(mem), llm.Options{KV: device.KVBF16, MaxSeq: 32, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Prefill([]int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	p0 := e.Pos()
	s0, s1, s2 := rec.step(t, e), rec.step(t, e), rec.step(t, e)
	patches, err := derivePatches(s0, s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	m := asMemory(mem)
	if _, err := m.NewProgram(llmabi.HostWeights(llm.WeightTensors(mw)), s0, []int64{int64(p0)}, patches); err == nil {
		t.Error("a program with host weights was accepted")
	}
	p, err := m.NewProgram(w, s0, []int64{int64(p0)}, patches)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params []int64
		want   string
	}{
		{[]int64{32}, "op "}, // pos + 1 beyond the 32 rows of the caches
		{[]int64{-1}, "op "},
		{[]int64{1, 2}, "parameters"},
	} {
		if err := p.Run(tc.params); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %v: %v, want an error naming %q", tc.params, err, tc.want)
		}
	}
	if err := p.Run([]int64{int64(p0 + 3)}); err != nil {
		t.Errorf("a valid run after refused ones: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Run([]int64{int64(p0 + 4)}); err == nil {
		t.Error("a closed program ran")
	}
	p, err = m.NewProgram(w, s0, []int64{int64(p0)}, patches)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Run([]int64{int64(p0 + 3)}); err == nil || !strings.Contains(err.Error(), "weights") {
		t.Errorf("a run with closed weights: %v", err)
	}
	if err := mem.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Run([]int64{int64(p0 + 3)}); err == nil {
		t.Error("a program ran on a closed memory")
	}
}
