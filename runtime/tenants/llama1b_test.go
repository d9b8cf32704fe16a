package tenants

import (
	"math"
	"os"
	"testing"
	"time"
)

// TestLlama1BBatchedVsAlone measures, for synthetic Llama 3.2 1B bf16 on
// the cpu device, how far a tenant's decode in a batch of 8 is from the
// same steps alone. Each tenant's batched tokens are fed again, one by one,
// to a tenant alone (teacher forcing: the same history at every step), and
// the two runs' logits are compared step by step. It fails if a logit
// moves by more than LogitTolerance, or a batched pick does not Agree with
// the logits alone; it reports the steps whose greedy pick differs from
// the pick alone (near ties, common with synthetic weights, whose logits
// are near-uniform). It needs 2.5 GB of weights and a minute of both cores,
// so it runs only with WASMGPU_TENANTS_1B=1.
func TestLlama1BBatchedVsAlone(t *testing.T) {
	if os.Getenv("WASMGPU_TENANTS_1B") == "" {
		t.Skip("set WASMGPU_TENANTS_1B=1 to compare batched and alone decode of synthetic Llama 3.2 1B (2.5 GB, a minute)")
	}
	f := getLlama1B(t)
	const n, steps = 8, 16
	ps := make([][]int32, n)
	for i := range ps {
		ps[i] = prompt1B(i)
	}
	o := f.opts
	o.MaxWait = time.Minute
	got := decodeAll(t, f, f.pool(t, o), ps, steps)
	p := f.pool(t, f.opts)
	worst, picks, differ := 0.0, 0, 0
	for i := range got {
		ref, first, err := p.Admit(f.ctx, ps[i])
		if err != nil {
			t.Fatal(err)
		}
		if first != got[i].tokens[0] {
			t.Fatalf("tenant %d: first token %d alone, %d in the pool", i, first, got[i].tokens[0])
		}
		for s := range steps {
			next, err := ref.Decode(f.ctx, got[i].tokens[s])
			if err != nil {
				t.Fatal(err)
			}
			alone, err := ref.Logits(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, relDiff(got[i].logits[s], alone))
			picks++
			if tok := got[i].tokens[s+1]; tok != next {
				differ++
				if !Agrees(alone, tok) {
					t.Errorf("tenant %d step %d: batched pick %d (logit alone %g) does not agree with the pick alone %d (%g)", i, s, tok, alone[tok], next, alone[next])
				}
			}
		}
		ref.Close(f.ctx)
	}
	t.Logf("synthetic Llama 3.2 1B, %d tenants × %d steps, teacher-forced: largest logit difference %.3g of the largest logit; %d of %d greedy picks differ from the pick alone (near ties)", n, steps, worst, differ, picks)
	if worst > LogitTolerance {
		t.Errorf("largest logit difference %.3g, over LogitTolerance %g", worst, LogitTolerance)
	}
}

// relDiff is the largest |a−b| over the largest |b|.
func relDiff(a, b []float32) float64 {
	scale, d := 0.0, 0.0
	for i := range b {
		scale = math.Max(scale, math.Abs(float64(b[i])))
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	if scale == 0 || len(a) != len(b) {
		return math.Inf(1)
	}
	return d / scale
}
