package llmabi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// batchFixture is a tiny model's weights on the cpu device and a step of
// row-wise and per-sequence calls laid out in a member's memory.
type batchFixture struct {
	d     device.Device
	w     device.Weights
	calls []llmabi.Call
	xb    device.Span // norm_linear's scratch
	size  uint64
}

const (
	bDim, bOut, bVocab = 16, 24, 4096
	bSentinel          = 0x5a
)

func newBatchFixture(t *testing.T) *batchFixture {
	t.Helper()
	d, _ := cpu.Open()
	r := rand.New(rand.NewPCG(3, 4))
	f32 := func(n int, shape ...int) device.WeightTensor {
		b := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
		return device.WeightTensor{DType: "F32", Shape: shape, Data: b}
	}
	ts := []device.WeightTensor{f32(bVocab*bDim, bVocab, bDim), f32(bDim, bDim), f32(bOut*bDim, bOut, bDim), f32(bVocab*bOut, bVocab, bOut)}
	for i := range ts {
		ts[i].Name = string(rune('a' + i))
	}
	w, err := d.LoadWeights(ts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	at := uint64(0)
	span := func(bytes int) device.Span {
		s := device.Span{Off: at, Len: uint64(bytes)}
		at += (s.Len + 63) &^ 63
		return s
	}
	tokens, x, xb, h, logits, idx := span(4), span(4*bDim), span(4*bDim), span(4*bOut), span(4*bVocab), span(4)
	f := &batchFixture{d: d, w: w, xb: xb, size: (at + 0xffff) &^ 0xffff}
	f.calls = []llmabi.Call{
		llmabi.Embed(0, tokens, x, 1),
		llmabi.RMSNorm(1, x, x, 1, 1e-5), // in place: out = x
		llmabi.NormLinear(1, []int{2}, x, xb, []device.Span{h}, 1, 1e-5),
		llmabi.Linear(3, h, logits, 1),
		llmabi.Argmax(logits, idx, 1, bVocab),
		llmabi.Sync(),
	}
	return f
}

// member makes a memory holding token tok, its scratch xb filled with the
// sentinel.
func (f *batchFixture) member(t *testing.T, tok int32) device.Memory {
	t.Helper()
	m, err := f.d.NewMemory(device.ZeroCopy, f.size)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Grow(f.size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b := m.Bytes()
	binary.LittleEndian.PutUint32(b[f.calls[0].S[0].Off:], uint32(tok))
	for i := range f.xb.Len {
		b[f.xb.Off+i] = bSentinel
	}
	return m
}

// runBatch runs the step for one member per token in a batch whose batch
// memory holds scratch bytes, and returns the members' memories, errors
// and the batch's stats.
func (f *batchFixture) runBatch(t *testing.T, tokens []int32, scratch uint64, edit func(k int, calls []llmabi.Call)) ([]device.Memory, []error, llmabi.BatchStats) {
	t.Helper()
	return f.runBatchWith(t, tokens, scratch, nil, edit)
}

// runBatchWith is runBatch with the batch memory wrapped by wrap.
func (f *batchFixture) runBatchWith(t *testing.T, tokens []int32, scratch uint64, wrap func(device.Memory) device.Memory, edit func(k int, calls []llmabi.Call)) ([]device.Memory, []error, llmabi.BatchStats) {
	t.Helper()
	var sm device.Memory
	sm, err := f.d.NewMemory(device.ZeroCopy, scratch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	if wrap != nil {
		sm = wrap(sm)
	}
	b, err := llmabi.NewBatch(sm, f.w)
	if err != nil {
		t.Fatal(err)
	}
	mems := make([]device.Memory, len(tokens))
	members := make([]llmabi.Member, len(tokens))
	for k, tok := range tokens {
		mems[k] = f.member(t, tok)
		calls := append([]llmabi.Call(nil), f.calls...)
		if edit != nil {
			edit(k, calls)
		}
		members[k] = llmabi.Member{Mem: mems[k], Calls: calls}
	}
	errs := make([]error, len(tokens))
	b.Run(members, errs)
	return mems, errs, b.Stats()
}

// alone runs the step on one member by itself, call by call.
func (f *batchFixture) alone(t *testing.T, tok int32) device.Memory {
	t.Helper()
	m := f.member(t, tok)
	for i := range f.calls {
		if err := llmabi.Dispatch(m.(device.LLMOps), f.w, &f.calls[i]); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// outputs returns the bytes of the step's outputs (x, h, logits, idx) in m.
func (f *batchFixture) outputs(m device.Memory) [][]byte {
	b := m.Bytes()
	var out [][]byte
	for _, s := range []device.Span{f.calls[0].S[1], f.calls[2].S[2], f.calls[3].S[1], f.calls[4].S[1]} {
		out = append(out, b[s.Off:s.End()])
	}
	return out
}

// TestBatchRowWise: a batch runs each member's step with the results of
// running it alone (float32 weights: the GEMM differs from the GEMV only in
// summation order, and the other ops are row by row the same), never
// writes a member's scratch (which would hold other members' rows in the
// batch memory), and runs a call member by member where it must: calls that
// differ, a batch memory too small, a batched call that fails, the failing
// member alone getting the error.
func TestBatchRowWise(t *testing.T) {
	f := newBatchFixture(t)
	tokens := []int32{3, 17, 3, 30, 9}
	want := make([][][]byte, len(tokens))
	for k, tok := range tokens {
		want[k] = f.outputs(f.alone(t, tok))
	}
	check := func(t *testing.T, mems []device.Memory, skip int) {
		t.Helper()
		for k, m := range mems {
			if k == skip {
				continue
			}
			got := f.outputs(m)
			for j := range got {
				if !closeF32(got[j], want[k][j]) {
					t.Errorf("member %d output %d: %v, alone %v", k, j, got[j], want[k][j])
				}
			}
			if j := bytes.IndexFunc(m.Bytes()[f.xb.Off:f.xb.End()], func(r rune) bool { return r != bSentinel }); j >= 0 {
				t.Errorf("member %d: its scratch was written at byte %d", k, j)
			}
		}
	}
	t.Run("batched", func(t *testing.T) {
		mems, errs, st := f.runBatch(t, tokens, 1<<20, nil)
		for k, err := range errs {
			if err != nil {
				t.Fatalf("member %d: %v", k, err)
			}
		}
		if st.RowCalls != 5 || len(st.Apart) != 0 {
			t.Errorf("stats %+v: want the 5 row-wise calls batched", st)
		}
		check(t, mems, -1)
	})
	t.Run("differ", func(t *testing.T) {
		_, errs, st := f.runBatch(t, tokens, 1<<20, func(k int, calls []llmabi.Call) {
			if k == 1 {
				calls[1].F = 2e-5 // another eps: not the same call
			}
		})
		if errs[1] != nil || st.Apart["differ"] != 1 {
			t.Errorf("stats %+v, errors %v: want one call run apart as differing", st, errs)
		}
	})
	t.Run("scratch", func(t *testing.T) {
		mems, errs, st := f.runBatch(t, tokens, 64<<10, nil) // holds every call's rows but the logits' (16 KiB a member)
		for k, err := range errs {
			if err != nil {
				t.Fatalf("member %d: %v", k, err)
			}
		}
		if st.Apart["scratch"] != 2 || st.RowCalls != 3 {
			t.Errorf("stats %+v: want the head and argmax run apart for want of batch memory", st)
		}
		check(t, mems, -1)
	})
	t.Run("copier", func(t *testing.T) {
		for _, refuse := range []bool{false, true} {
			var cm *copyingMemory
			wrap := func(m device.Memory) device.Memory {
				cm = &copyingMemory{Memory: m, LLMOps: m.(device.LLMOps), refuse: refuse}
				return cm
			}
			mems, errs, st := f.runBatchWith(t, tokens, 1<<20, wrap, nil)
			for k, err := range errs {
				if err != nil {
					t.Fatalf("member %d: %v", k, err)
				}
			}
			check(t, mems, -1)
			// A gather and a scatter for each of the 5 row-wise calls; once
			// refused, a call's scatter is not offered to the copier.
			wantCalls, wantHost := 2*5, uint64(0)
			if refuse {
				wantCalls, wantHost = 5, 5
			}
			if cm.calls != wantCalls || st.HostCopies != wantHost || st.RowCalls != 5 {
				t.Errorf("refuse %v: %d CopyRows calls, stats %+v: want %d calls, %d row-wise calls copied on the host", refuse, cm.calls, st, wantCalls, wantHost)
			}
		}
	})
	t.Run("error", func(t *testing.T) {
		bad := append([]int32(nil), tokens...)
		bad[2] = bVocab + 5 // outside the table: the batched embed fails
		mems, errs, st := f.runBatch(t, bad, 1<<20, nil)
		for k, err := range errs {
			if (err != nil) != (k == 2) {
				t.Fatalf("member %d: error %v", k, err)
			}
		}
		if !strings.Contains(errs[2].Error(), "program op 0") || st.Apart["error"] != 1 {
			t.Errorf("error %v, stats %+v: want op 0 to fail for member 2 alone", errs[2], st)
		}
		check(t, mems, 2)
	})
}

// closeF32 reports whether a and b, float32 (or int32) arrays, are equal
// up to float32 summation order.
func closeF32(a, b []byte) bool {
	for i := 0; i+4 <= len(a); i += 4 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(a[i:]))
		y := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		if x != y && math.Abs(float64(x-y)) > 1e-5*(1+math.Abs(float64(y))) {
			return false
		}
	}
	return true
}

// copyingMemory is a batch memory that is a RowCopier: it copies on the
// host as a device would, checking every copy names itself on one side and
// stays inside both memories, or refuses every copy.
type copyingMemory struct {
	device.Memory
	device.LLMOps
	refuse bool
	calls  int
}

func (c *copyingMemory) Sync() error { return c.Memory.Sync() }

func (c *copyingMemory) CopyRows(rows []llmabi.RowCopy) error {
	c.calls++
	if c.refuse {
		return errors.New("not a memory this device copies")
	}
	for _, r := range rows {
		if r.Src != c && r.Dst != c || r.SrcOff+r.Len > r.Src.Size() || r.DstOff+r.Len > r.Dst.Size() {
			return fmt.Errorf("copy %+v: not between this memory and another, or out of range", r)
		}
	}
	for _, r := range rows {
		copy(r.Dst.Bytes()[r.DstOff:r.DstOff+r.Len], r.Src.Bytes()[r.SrcOff:r.SrcOff+r.Len])
	}
	return nil
}
