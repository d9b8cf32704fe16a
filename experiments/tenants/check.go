package tenants

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgpu/wasmgpu/runtime/tenants"
)

// checker decides whether a tenant's tokens are what its prompt decodes
// alone. A batch of several tenants runs the projections as GEMMs whose
// rounding differs from one token's GEMV (runtime/tenants, "Numerics"), so
// at a near tie the greedy pick may differ and the conversations part
// ways: comparing free-running sequences would fail on the first near
// tie. So a sequence that differs from its prompt's reference is replayed
// by a tenant alone (teacher forcing: at every step the same history as
// the batched tenant had) and each of its picks from the first difference
// on must Agree with the logits alone (tenants.Agrees: within
// tenants.LogitTolerance of the largest); the picks that differ but agree
// are near ties, counted.
type checker struct {
	pool *tenants.Pool // of one tenant, run alone
	// refs are each distinct prompt's tokens decoded alone: the first
	// token (from the prefill) and decode_tokens more.
	refs [][]int32
	// seen holds the verdicts of sequences already replayed, by prompt and
	// tokens: tenants of one prompt often part ways at the same near tie.
	seen map[string]verdict
}

// verdict is what checking one tenant's tokens found.
type verdict struct {
	picks int    // decode picks checked
	ties  int    // picks that differ from the pick alone but agree with its logits
	bad   string // "" when every pick agrees; else what did not
}

// check judges tokens, a tenant's first token and its decoded ones, of
// prompt k.
func (ck *checker) check(ctx context.Context, prompt []int32, k int, tokens []int32) (verdict, error) {
	ref := ck.refs[k]
	v := verdict{picks: max(0, len(tokens)-1)}
	d := firstDiff(tokens, ref)
	if d == len(tokens) {
		return v, nil // equal to the reference (or a prefix of it: a tenant that failed part-way)
	}
	if d == 0 {
		v.bad = fmt.Sprintf("first token %d, alone %d: the prefill runs alone and must agree exactly", tokens[0], ref[0])
		return v, nil
	}
	key := fmt.Sprint(k, tokens)
	if seen, ok := ck.seen[key]; ok {
		return seen, nil
	}
	t, first, err := ck.pool.Admit(ctx, prompt)
	if err != nil {
		return v, fmt.Errorf("replay alone: %w", err)
	}
	defer t.Close(ctx)
	if first != tokens[0] {
		return v, fmt.Errorf("replay alone: first token %d, the reference's was %d (alone is not deterministic)", first, ref[0])
	}
	for s := 0; s+1 < len(tokens); s++ {
		next, err := t.Decode(ctx, tokens[s])
		if err != nil {
			return v, fmt.Errorf("replay alone, step %d: %w", s, err)
		}
		got := tokens[s+1]
		if got == next {
			continue
		}
		logits, err := t.Logits(ctx)
		if err != nil {
			return v, fmt.Errorf("replay alone, step %d: %w", s, err)
		}
		if !tenants.Agrees(logits, got) {
			v.bad = fmt.Sprintf("decode step %d picked %d where alone, with the same history, picks %d (logit %g against %g: beyond the batched kernels' tolerance %g of the largest)",
				s, got, next, at(logits, got), logits[next], tenants.LogitTolerance)
			break
		}
		v.ties++
	}
	ck.seen[key] = v
	return v, nil
}

// at is logits[i], NaN outside them.
func at(logits []float32, i int32) float32 {
	if i < 0 || int(i) >= len(logits) {
		return float32(math.NaN())
	}
	return logits[i]
}

// firstDiff is the first index where a and b differ (len of the shorter
// when one is a prefix of the other).
func firstDiff(a, b []int32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
