package kv

import (
	"reflect"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// TestLayoutMatchesEngine: the layout read back from a state region's
// header is the engine's own StateLayout, for every KV dtype, and a guest's
// region has the same layout as a native engine's.
func TestLayoutMatchesEngine(t *testing.T) {
	d, _ := cpu.Open()
	for _, kv := range []device.KVDType{device.KVBF16, device.KVF16, device.KVF32} {
		m := newModel(t, d, models.Tiny(), testSeed, kv)
		mem, err := d.NewMemory(device.ZeroCopy, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		e, err := llm.NewNative(m.cfg, mem, m.w, llm.Options{KV: kv, MaxSeq: testMaxSeq, MaxBatch: testBatch})
		if err != nil {
			t.Fatal(err)
		}
		b := e.State()
		h, err := llm.ParseStateHeader(mem.Bytes()[b.Off : b.Off+b.Len])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(h.Layout, e.StateLayout()) || h.Pos != 0 || h.Next != -1 {
			t.Fatalf("%s: parsed %+v pos %d next %d\nengine %+v", kv, h.Layout, h.Pos, h.Next, e.StateLayout())
		}
		mem.Close()

		g := m.open(t, "wasm", device.ZeroCopy)
		region, err := g.S.State(m.ctx)
		if err != nil {
			t.Fatal(err)
		}
		gh, err := llm.ParseStateHeader(region)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gh.Layout, h.Layout) {
			t.Fatalf("%s: guest layout %+v, native %+v", kv, gh.Layout, h.Layout)
		}
	}
}
