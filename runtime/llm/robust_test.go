package llm

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// tinyWith returns a native engine on the cpu device over synthetic Tiny
// weights after edit changed them.
func tinyWith(t *testing.T, edit func(w *models.Weights)) *Engine {
	t.Helper()
	w, err := models.Synthetic(models.Tiny(), 7, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	edit(w)
	return nativeOn(t, w, device.ZeroCopy, Options{MaxSeq: 32, MaxBatch: 8})
}

// TestNonFiniteLogitsAreAnError: weights that make the logits NaN or
// infinite are an error naming the position, greedy or sampled, not a token
// (before, greedy decoding returned token 0 without an error).
func TestNonFiniteLogitsAreAnError(t *testing.T) {
	for _, c := range []struct {
		name string
		bits uint16 // a bf16 written into the final norm's first weight
	}{{"NaN", 0x7fc0}, {"+Inf", 0x7f80}} {
		for _, temp := range []float32{0, 0.8} {
			e := tinyWith(t, func(w *models.Weights) { binary.LittleEndian.PutUint16(w.FinalNorm.Data, c.bits) })
			if err := e.SetSampling(temp, 0.9, 1); err != nil {
				t.Fatal(err)
			}
			tok, err := e.Prefill([]int32{1, 2, 3, 4, 5})
			if err == nil || !strings.Contains(err.Error(), "logits at position 4") || !strings.Contains(err.Error(), "NaN or infinity") {
				t.Errorf("%s weights, temperature %v: token %d, error %v", c.name, temp, tok, err)
			}
		}
	}
}

// TestResumeRefusedResets: a header the engine refuses after a restore
// leaves it reset at position 0, never at the position it had, whose cache
// the restore overwrote.
func TestResumeRefusedResets(t *testing.T) {
	e := tinyWith(t, func(*models.Weights) {})
	if _, err := e.Prefill([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		at   int
		v    uint32
		want string
	}{
		{"next token past the vocabulary", 32, uint32(e.Config().VocabSize), "next token"},
		{"position past maxSeq", 28, 33, "position 33"},
		{"another KV dtype", 12, 0, "KV dtype"},
	} {
		if _, err := e.Prefill([]int32{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint32(e.stateView[28:], 20) // what a restore writes: pos 20 ...
		binary.LittleEndian.PutUint32(e.stateView[c.at:], c.v)
		err := e.Resume()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if e.Pos() != 0 || e.Next() != -1 {
			t.Fatalf("%s: after the refused resume pos %d next %d, want a reset engine", c.name, e.Pos(), e.Next())
		}
		if pos, _, err := e.readHeader(); err != nil || pos != 0 {
			t.Fatalf("%s: header after the reset: pos %d, %v", c.name, pos, err)
		}
		if _, err := e.Decode(5); err != nil || e.Pos() != 1 {
			t.Fatalf("%s: decode after the reset: pos %d, %v", c.name, e.Pos(), err)
		}
		e.Reset()
	}
}
