package cuda

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Tests in this file need no GPU: they check a program's patches, its
// layout and its run-time validation (planProgram, apply) on a Memory
// with no device behind it.

// stepFixture is a small decode step at position pos: embed of the token
// at tokens[pos], rope_kv and attention at pos, argmax and sync, in a
// managed memory of size bytes, with host weights (an embedding table).
type stepFixture struct {
	m       *Memory
	w       llmabi.HostWeights
	calls   []llmabi.Call
	patches []Patch
	seq     int
}

const (
	fxVocab, fxDim, fxHeads, fxKV, fxHD = 50, 64, 4, 2, 16
	fxTokens                            = 4096 // offset of the token ids
)

func newStepFixture(pos int) *stepFixture {
	f := &stepFixture{m: &Memory{mode: device.Managed, size: 1 << 20}, seq: 64}
	f.w = llmabi.HostWeights{{Name: "embed", DType: "BF16", Shape: []int{fxVocab, fxDim}, Data: make([]byte, 2*fxVocab*fxDim)}}
	at := uint64(64 << 10)
	span := func(n int) device.Span {
		s := device.Span{Off: at, Len: uint64(n)}
		at = (at + uint64(n) + 255) &^ 255
		return s
	}
	width := fxKV * fxHD
	x, q := span(4*fxDim), span(4*fxHeads*fxHD)
	k, v, inv := span(4*width), span(4*width), span(4*fxHD/2)
	kc, vc := span(2*f.seq*width), span(2*f.seq*width)
	att, next := span(4*fxHeads*fxHD), span(4)
	tok := device.Span{Off: fxTokens + 4*uint64(pos), Len: 4}
	f.calls = []llmabi.Call{
		llmabi.Embed(0, tok, x, 1),
		llmabi.RoPEKV(q, k, v, inv, kc, vc, device.KVBF16, 1, pos, fxHeads, fxKV, fxHD),
		llmabi.Attention(q, kc, vc, att, device.KVBF16, 1, pos, fxHeads, fxKV, fxHD),
		llmabi.Argmax(x, next, 1, fxDim),
		llmabi.Sync(),
	}
	f.patches = []Patch{
		{Call: 0, Kind: PatchOffset, Index: 0, Param: 0, Mul: 4},
		{Call: 1, Kind: PatchScalar, Index: scalarIndex(llmabi.OpRoPEKV, "pos"), Param: 0, Mul: 1},
		{Call: 2, Kind: PatchScalar, Index: scalarIndex(llmabi.OpAttention, "pos"), Param: 0, Mul: 1},
	}
	return f
}

func (f *stepFixture) plan(t *testing.T, base int64) *Program {
	t.Helper()
	p, err := f.m.planProgram(f.w, f.calls, []int64{base}, f.patches)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProgramLayout(t *testing.T) {
	hostio0 := managedHostIO
	defer func() { managedHostIO = hostio0 }()
	managedHostIO = true
	p := newStepFixture(5).plan(t, 5)
	if p.nSlots != 2 || p.posSlot[1] != 0 || p.posSlot[2] != 1 || p.posSlot[0] != -1 {
		t.Errorf("position slots %v (%d), want rope_kv 0 and attention 1", p.posSlot, p.nSlots)
	}
	if p.nIDs != 1 || p.idsAt[0] != 0 || p.idsN[0] != 1 {
		t.Errorf("ids at %v, %d of them", p.idsAt, p.nIDs)
	}
	if !p.hasSync || p.argmax != 3 || p.eagerReason != nil {
		t.Errorf("sync %v, argmax at %d, eager %v", p.hasSync, p.argmax, p.eagerReason)
	}
	if len(p.patched) != 3 || p.bakedKey() != "" {
		t.Errorf("patched %v, baked key %q", p.patched, p.bakedKey())
	}
}

func TestProgramApply(t *testing.T) {
	f := newStepFixture(5)
	p := f.plan(t, 5)
	if err := p.apply([]int64{40}); err != nil {
		t.Fatal(err)
	}
	if got := p.cur[0].S[0].Off; got != fxTokens+4*40 {
		t.Errorf("embed's token offset %d, want %d", got, fxTokens+4*40)
	}
	for _, i := range []int{1, 2} {
		if got := p.cur[i].I[scalarIndex(p.cur[i].Op, "pos")]; got != 40 {
			t.Errorf("op %d (%s): pos %d, want 40", i, p.cur[i].Op, got)
		}
		if p.calls[i].I[scalarIndex(p.calls[i].Op, "pos")] != 5 {
			t.Errorf("op %d: the recorded call changed", i)
		}
	}
	for _, tc := range []struct {
		param int64
		want  []string
	}{
		{int64(f.seq), []string{"op 1", "rope_kv", "kCache"}},           // pos + n beyond the cache
		{-1, []string{"op 1", "rope_kv", "pos"}},                        // a negative position
		{math.MaxInt64, []string{"op 0", "embed", "parameter 0"}},       // overflow of the offset
		{math.MinInt64, []string{"op 0", "embed", "parameter 0"}},       // overflow the other way
		{1 << 40, []string{"op 1", "rope_kv", "pos"}},                   // a position past int32
		{(1 << 20) / 4, []string{"op 0", "embed", "outside", "tokens"}}, // the token past memory
	} {
		err := p.apply([]int64{tc.param})
		if err == nil {
			t.Errorf("param %d: accepted", tc.param)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("param %d: %q does not name %q", tc.param, err, w)
			}
		}
	}
	if err := p.apply([]int64{6}); err != nil { // a valid run after refused ones
		t.Fatal(err)
	}
}

func TestProgramRefusesBadPatches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch Patch
		want  string
	}{
		{"call out of range", Patch{Call: 9, Param: 0, Mul: 1}, "call 9"},
		{"negative call", Patch{Call: -1, Param: 0, Mul: 1}, "call -1"},
		{"parameter out of range", Patch{Call: 2, Kind: PatchScalar, Index: 1, Param: 3, Mul: 1}, "parameter 3"},
		{"zero multiplier", Patch{Call: 2, Kind: PatchScalar, Index: 1, Param: 0}, "multiplier"},
		{"huge multiplier", Patch{Call: 2, Kind: PatchScalar, Index: 1, Param: 0, Mul: 1 << 40}, "multiplier"},
		{"no such scalar", Patch{Call: 3, Kind: PatchScalar, Index: 4, Param: 0, Mul: 1}, "no integer scalar 4"},
		{"no such operand", Patch{Call: 3, Kind: PatchOffset, Index: 2, Param: 0, Mul: 1}, "no operand 2"},
		{"unknown kind", Patch{Call: 3, Kind: 7, Param: 0, Mul: 1}, "unknown kind"},
		{"position patched twice", Patch{Call: 2, Kind: PatchScalar, Index: scalarIndex(llmabi.OpAttention, "pos"), Param: 0, Mul: 2}, "twice"},
	} {
		f := newStepFixture(5)
		_, err := f.m.planProgram(f.w, f.calls, []int64{5}, append(f.patches, tc.patch))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	f := newStepFixture(5)
	for _, tc := range []struct {
		name  string
		calls []llmabi.Call
		base  []int64
		want  string
	}{
		{"no calls", nil, []int64{5}, "no calls"},
		{"too many parameters", f.calls, make([]int64, maxProgramParams+1), "parameters"},
		{"a call out of memory", append(f.calls[:4:4], llmabi.Add(device.Span{Off: 1 << 20, Len: 4}, device.Span{Off: 0, Len: 4}, 1)), []int64{5}, "op 4"},
		{"unknown op", append(f.calls[:4:4], llmabi.Call{Op: 200}), []int64{5}, "op 4"},
	} {
		_, err := f.m.planProgram(f.w, tc.calls, tc.base, f.patches)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

// TestProgramBakedWords checks that a patched word no kernel reads from the
// parameter block (argmax's out offset) becomes part of the graph's key.
func TestProgramBakedWords(t *testing.T) {
	f := newStepFixture(5)
	f.patches = append(f.patches, Patch{Call: 3, Kind: PatchOffset, Index: 1, Param: 0, Mul: 4})
	f.calls[3].S[1].Off = fxTokens + 4*6 // argmax into tokens[pos+1]
	p := f.plan(t, 5)
	keys := map[string]bool{}
	for _, pos := range []int64{5, 6, 5} {
		if err := p.apply([]int64{pos}); err != nil {
			t.Fatal(err)
		}
		keys[p.bakedKey()] = true
	}
	if len(keys) != 2 {
		t.Errorf("%d distinct keys for two positions", len(keys))
	}
}

func TestMulSub(t *testing.T) {
	for _, tc := range []struct {
		mul, a, b, want int64
		ok              bool
	}{
		{4, 10, 3, 28, true}, {-1, 3, 10, 7, true}, {1, math.MaxInt64, -1, 0, false},
		{1, math.MinInt64, 1, 0, false}, {1 << 32, 1 << 32, 0, 0, false}, {2, -5, -5, 0, true},
		{math.MinInt64, -1, 0, 0, false},
	} {
		got, ok := mulSub(tc.mul, tc.a, tc.b)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("mulSub(%d, %d, %d) = %d, %v; want %d, %v", tc.mul, tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzProgramPatches plans the fixture's program with one more patch
// drawn from the fuzzer's words and runs it at a fuzzed parameter: every
// outcome is an error or calls that all lie in memory; nothing panics.
func FuzzProgramPatches(f *testing.F) {
	f.Add(uint8(2), uint8(0), uint8(1), uint8(0), int64(1), int64(7), int64(5))
	f.Add(uint8(0), uint8(1), uint8(0), uint8(0), int64(4), int64(1<<40), int64(5))
	f.Add(uint8(3), uint8(1), uint8(1), uint8(0), int64(-4), int64(-3), int64(0))
	f.Fuzz(func(t *testing.T, call, kind, index, param uint8, mul, run, base int64) {
		fx := newStepFixture(5)
		p, err := fx.m.planProgram(fx.w, fx.calls, []int64{5}, append(fx.patches,
			Patch{Call: int(call % 6), Kind: PatchKind(kind % 3), Index: int(index % 8), Param: int(param % 2), Mul: mul}))
		if err != nil {
			return
		}
		if err := p.apply([]int64{run}); err != nil {
			if !strings.Contains(err.Error(), "op ") {
				t.Errorf("error %q does not name the op", err)
			}
			return
		}
		for i := range p.cur {
			if err := p.cur[i].Validate(fx.m.size, fx.w); err != nil {
				t.Fatalf("op %d accepted but invalid: %v", i, err)
			}
			for _, s := range p.cur[i].S {
				if s.Off+s.Len < s.Off || s.Off+s.Len > fx.m.size {
					t.Fatalf("op %d: span [%d, +%d) outside memory", i, s.Off, s.Len)
				}
			}
		}
	})
}

// TestPositionPatches records the fixture's step as the engine does
// (llmabi.Record at positions 0, 1 and a far one) and checks that the
// program interface's patches become the fixture's own, and that a moving
// length is left to be run call by call.
func TestPositionPatches(t *testing.T) {
	p, err := llmabi.Record(func(pos int) ([]llmabi.Call, error) { return newStepFixture(pos).calls, nil }, 63)
	if err != nil {
		t.Fatal(err)
	}
	got, err := positionPatches(p)
	if err != nil {
		t.Fatal(err)
	}
	want := newStepFixture(0).patches
	if len(got) != len(want) {
		t.Fatalf("patches %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("patch %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	f := newStepFixture(0)
	if _, err := f.m.planProgram(f.w, p.Calls, []int64{0}, got); err != nil {
		t.Errorf("the recorded program does not plan: %v", err)
	}
	lenWord := -1
	for j, w := range llmabi.OpEmbed.Layout().Wire {
		if w.Name == "tokens_len" {
			lenWord = j
		}
	}
	if lenWord < 0 {
		t.Fatal("embed has no tokens_len word")
	}
	moved := &llmabi.Program{Calls: p.Calls, Patches: []llmabi.Patch{{Call: 0, Word: lenWord, Slope: 4}}}
	if _, err := positionPatches(moved); !errors.Is(err, llmabi.ErrCallByCall) {
		t.Errorf("a moving length: %v, want ErrCallByCall", err)
	}
}
