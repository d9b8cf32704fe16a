package llm

import (
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// TestProgramMatchesEveryPosition: the token step's program, recorded at
// three positions, gives at every position of the context exactly the
// words a fresh recording at that position does — the check that the
// recorded lines are the engine's (llmabi.Record), for both kinds of pick.
func TestProgramMatchesEveryPosition(t *testing.T) {
	for _, temp := range []float32{0, 0.7} {
		e, _ := newTiny(t, device.ZeroCopy, Options{KV: device.KVBF16, MaxSeq: 48, MaxBatch: 4})
		if err := e.SetSampling(temp, 0.9, 1); err != nil {
			t.Fatal(err)
		}
		p, err := llmabi.Record(e.recordStep, e.MaxSeq()-1)
		if err != nil {
			t.Fatal(err)
		}
		// Embed's token offset, and rope_kv's and attention's positions in
		// each of the two layers.
		if len(p.Patches) != 1+2*e.cfg.NumHiddenLayers {
			t.Errorf("temperature %v: %d moving words: %v", temp, len(p.Patches), p.Patches)
		}
		for pos := range e.MaxSeq() {
			calls, err := e.recordStep(pos)
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) != len(p.Calls) {
				t.Fatalf("position %d: %d calls, the program has %d", pos, len(calls), len(p.Calls))
			}
			at := make([][]uint32, len(p.Calls))
			for i := range p.Calls {
				at[i] = p.Calls[i].Encode(nil)
			}
			for _, q := range p.Patches {
				at[q.Call][1+q.Word] += uint32(int64(q.Slope) * int64(pos))
			}
			for i := range calls {
				if want := calls[i].Encode(nil); !slices.Equal(at[i], want) {
					t.Fatalf("temperature %v position %d op %d (%s): program %v, recording %v", temp, pos, i, calls[i].Op, at[i], want)
				}
			}
		}
	}
}

// TestProgramIsBitIdentical: decoding with the token step as a program
// gives the op-by-op engine's tokens and logits bit for bit, greedy and
// sampling, in each cpu mode, across a reset.
func TestProgramIsBitIdentical(t *testing.T) {
	for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
		for _, temp := range []float32{0, 0.8} {
			opt := Options{KV: device.KVBF16, MaxSeq: 40, MaxBatch: 8}
			ops, w := newTiny(t, mode, opt)
			prog := nativeOn(t, w, mode, opt)
			if err := prog.SetProgram(true); err != nil {
				t.Fatal(err)
			}
			for _, e := range []*Engine{ops, prog} {
				if err := e.SetSampling(temp, 0.95, 3); err != nil {
					t.Fatal(err)
				}
			}
			for round := range 2 {
				toks := prompt(11, w.Config.VocabSize)
				var got [2][]int32
				for k, e := range []*Engine{ops, prog} {
					e.Reset()
					next, err := e.Prefill(toks)
					if err != nil {
						t.Fatal(err)
					}
					got[k] = append(got[k], next)
				}
				for step := range 20 {
					var logits [2][]float32
					for k, e := range []*Engine{ops, prog} {
						next, err := e.Decode(got[k][len(got[k])-1])
						if err != nil {
							t.Fatalf("%s temperature %v round %d step %d engine %d: %v", mode, temp, round, step, k, err)
						}
						got[k] = append(got[k], next)
						logits[k] = slices.Clone(e.Logits())
					}
					if !slices.Equal(logits[0], logits[1]) {
						t.Fatalf("%s temperature %v round %d step %d: logits differ", mode, temp, round, step)
					}
				}
				if !slices.Equal(got[0], got[1]) {
					t.Fatalf("%s temperature %v: tokens differ:\nop by op %v\nprogram  %v", mode, temp, got[0], got[1])
				}
				if ops.Pos() != prog.Pos() || ops.Next() != prog.Next() {
					t.Fatalf("position %d/%d, next %d/%d", ops.Pos(), prog.Pos(), ops.Next(), prog.Next())
				}
			}
			if err := prog.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestProgramErrors: a program decode past the context is refused as the
// op-by-op one is, kernels without programs are refused, and a closed
// engine's next program decode records and submits its step again.
func TestProgramErrors(t *testing.T) {
	e, w := newTiny(t, device.ZeroCopy, Options{KV: device.KVF32, MaxSeq: 6, MaxBatch: 8})
	if err := e.SetProgram(true); err != nil {
		t.Fatal(err)
	}
	next, err := e.Prefill(prompt(5, w.Config.VocabSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Decode(-1); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("decode of token -1: %v", err)
	}
	if next, err = e.Decode(next); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Decode(next); err == nil || !strings.Contains(err.Error(), "1 tokens at position 6 exceed the context of 6") {
		t.Fatalf("decode past the context: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e.Reset()
	if _, err := e.Decode(1); err != nil {
		t.Fatalf("decode after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	plain, err := New(w.Config, &recorder{}, func(size uint32) (Buf, []byte, error) {
		return Buf{Off: 64 << 10, Len: size}, make([]byte, size), nil
	}, Options{MaxSeq: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.SetProgram(true); err == nil || !strings.Contains(err.Error(), "cannot run programs") {
		t.Fatalf("SetProgram on kernels without programs: %v", err)
	}
}
