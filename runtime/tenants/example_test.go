package tenants_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/tenants"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Three tenants of one model, each in its own sandbox, decode from their
// own goroutines; their steps run as batches of three.
func Example() {
	ctx := context.Background()
	d, _ := cpu.Open()
	cfg := models.Tiny()
	mw, err := models.Synthetic(cfg, 5, models.BF16)
	if err != nil {
		log.Fatal(err)
	}
	w, err := d.LoadWeights(llm.WeightTensors(mw)) // one copy, shared by every tenant
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	o := tenants.Options{KV: device.KVBF16, MaxSeq: 64, MaxBatch: 8, MaxWait: time.Minute}
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm,
		MaxMemory: llmhost.MemoryBytes(cfg, llmhost.Options{KV: o.KV, MaxSeq: o.MaxSeq, MaxBatch: o.MaxBatch})})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	pool, err := tenants.NewPool(ctx, rt, d, device.ZeroCopy, cfg, w, o)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close(ctx)

	var ts []*tenants.Tenant
	for i := range 3 {
		t, _, err := pool.Admit(ctx, []int32{int32(10 + i), 20, 30})
		if err != nil {
			log.Fatal(err)
		}
		ts = append(ts, t)
	}
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() {
			defer t.Close(ctx)
			next := t.Next()
			for range 5 {
				n, err := t.Decode(ctx, next)
				if err != nil {
					log.Print(err)
					return
				}
				next = n
			}
		})
	}
	wg.Wait()
	st := pool.Stats()
	fmt.Printf("%d steps in %d batches of three\n", st.Steps, st.Sizes[3])
	// Output: 15 steps in 5 batches of three
}
