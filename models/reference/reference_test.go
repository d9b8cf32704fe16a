package reference

import (
	"strings"
	"testing"
)

func TestTiny(t *testing.T) {
	f, err := Tiny()
	if err != nil || len(f.Tokens) != 20 || len(f.Logits) != 20 || len(f.InvFreq) != f.Weights.Config.HeadDim/2 {
		t.Fatalf("tiny fixture: %v (want 20 tokens and logits rows, headDim/2 frequencies)", err)
	}
	// HF's own logits pass, prefilled or decoded; an engine one off fails.
	vocab := len(f.Logits[0])
	pos := 0
	exact := func(tokens []int32, all bool) ([]float32, error) {
		var out []float32
		if all {
			for i := range tokens {
				out = append(out, f.Logits[pos+i]...)
			}
		} else {
			out = append(out, f.Logits[pos+len(tokens)-1]...)
		}
		pos += len(tokens)
		return out, nil
	}
	e, err := f.Check(exact, 12)
	if err != nil || e.MaxAbsDiff != 0 || e.ArgmaxAgree != 20 || e.Positions != 20 {
		t.Fatalf("exact run: %+v, %v", e, err)
	}
	pos = 0
	shifted := func(tokens []int32, all bool) ([]float32, error) {
		out, err := exact(tokens, all)
		for i := range out {
			out[i] += 0.5
		}
		return out, err
	}
	if e, _ := f.Check(shifted, 12); e.MaxAbsDiff < 0.49 {
		t.Fatalf("shifted run: %+v", e)
	}
	short := func([]int32, bool) ([]float32, error) { return make([]float32, vocab), nil }
	if _, err := f.Check(short, 12); err == nil || !strings.Contains(err.Error(), "logits for 12 rows") {
		t.Fatalf("short run: %v", err)
	}
	if n, _ := CompareInvFreq([]float32{1, 2}, []float32{1, 2, 3}); n != 1 {
		t.Fatalf("inv_freq of another length: %d mismatches", n)
	}
}
