package tenants

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/tenants"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// TestChecker: a sequence equal to its prompt's alone passes without a
// replay; a wrong first token, and a pick far below the best logit alone
// (what another tenant's rows would give), fail naming the step.
func TestChecker(t *testing.T) {
	ctx := context.Background()
	d, err := cpu.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 7, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	w, err := d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	o := llmhost.Options{KV: device.KVBF16, MaxSeq: 32, MaxBatch: 8}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, o)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	pool, err := tenants.NewPool(ctx, rt, d, device.ZeroCopy, cfg, w, tenants.Options{KV: o.KV, MaxSeq: o.MaxSeq, MaxBatch: o.MaxBatch, MaxTenants: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close(ctx)
	prompt := experiments.PromptIDs(7, 5, cfg.VocabSize)
	ref, err := decodeAlone(ctx, pool, prompt, 6)
	if err != nil {
		t.Fatal(err)
	}
	ck := &checker{pool: pool, refs: [][]int32{ref}, seen: map[string]verdict{}}

	v, err := ck.check(ctx, prompt, 0, ref)
	if err != nil || v.bad != "" || v.picks != 6 || v.ties != 0 || len(ck.seen) != 0 {
		t.Errorf("the reference itself: %+v, %v (%d replays)", v, err, len(ck.seen))
	}
	if v, _ := ck.check(ctx, prompt, 0, ref[:3]); v.bad != "" {
		t.Errorf("a prefix of the reference (a tenant that failed part-way): %s", v.bad)
	}
	wrongFirst := append([]int32{ref[0] + 1}, ref[1:]...)
	if v, _ := ck.check(ctx, prompt, 0, wrongFirst); !strings.Contains(v.bad, "first token") {
		t.Errorf("a wrong first token: %+v", v)
	}

	// At step 2 pick the token whose logit alone is the smallest.
	tn, _, err := pool.Admit(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 3 {
		if _, err := tn.Decode(ctx, ref[s]); err != nil {
			t.Fatal(err)
		}
	}
	logits, err := tn.Logits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	worst := int32(0)
	for i, x := range logits {
		if x < logits[worst] {
			worst = int32(i)
		}
	}
	tn.Close(ctx)
	wrong := append(append([]int32{}, ref[:3]...), worst)
	v, err = ck.check(ctx, prompt, 0, wrong)
	if err != nil || !strings.Contains(v.bad, "decode step 2 picked") {
		t.Errorf("a far pick at step 2: %+v, %v", v, err)
	}
	if again, _ := ck.check(ctx, prompt, 0, wrong); again != v || len(ck.seen) != 1 {
		t.Errorf("the same sequence again: %+v, %d replays kept", again, len(ck.seen))
	}
}
