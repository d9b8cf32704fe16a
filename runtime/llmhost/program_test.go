package llmhost

import (
	"slices"
	"testing"
)

// TestProgramSessionsAgree: native and guest sessions that decode with the
// token step as a program give the op-by-op sessions' tokens and logits
// bit for bit, and a guest's program decode makes one host call a token
// where op by op makes one per kernel.
func TestProgramSessionsAgree(t *testing.T) {
	f := newFixture(t)
	ss := f.sessions(t)
	prompt := []int32{4, 99, 7, 250, 13}
	var want []int32
	var wantLogits []float32
	for _, name := range []string{"native", "wasm", "native-program", "wasm-program"} {
		s := ss[name]
		next, err := s.Prefill(f.ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		got := []int32{next}
		calls := make([]uint64, 0, 9)
		for range 8 {
			before := s.HostCalls()
			if next, err = s.Decode(f.ctx, next); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			calls = append(calls, s.HostCalls()-before)
			got = append(got, next)
		}
		logits, _ := s.Logits(f.ctx)
		if want == nil {
			want, wantLogits = got, slices.Clone(logits)
		} else if !slices.Equal(got, want) || !slices.Equal(logits, wantLogits) {
			t.Fatalf("%s: tokens %v (logits equal: %v), native op by op %v", name, got, slices.Equal(logits, wantLogits), want)
		}
		// Op by op: embed, 6 per layer, the head, argmax, sync.
		perOp := uint64(1 + 6*f.cfg.NumHiddenLayers + 1 + 2)
		switch name {
		case "wasm":
			if calls[1] != perOp {
				t.Errorf("wasm: %v host calls per token, want %d", calls, perOp)
			}
		case "wasm-program":
			// The first decode submits the step (one call), then one run a token.
			if calls[0] != 2 || calls[1] != 1 || calls[7] != 1 {
				t.Errorf("wasm-program: %v host calls per token, want 2 then 1", calls)
			}
		default:
			if calls[1] != 0 {
				t.Errorf("%s: %v host calls", name, calls)
			}
		}
	}
}
